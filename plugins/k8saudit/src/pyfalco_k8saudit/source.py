"""Opening the ``k8s_audit`` source from ``open_params`` (upstream ``source.go``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pyfalco.api import OpenContext, SourceInstance
from pyfalco.errors import PluginError

from .config import K8sAuditConfig
from .files import OneShotInstance, TailInstance
from .webhook import WebhookInstance


def open_instance(
    open_params: str, config: K8sAuditConfig, *, plugin_id: int = 1
) -> SourceInstance:
    """``http://host:port/path`` or ``https://...`` (webhook), ``file:///abs/path`` (tail),
    or a plain path to a file or directory (read once, then EOF).

    A line of a file may be a whole webhook batch (an EventList), so lines are limited by
    ``webhookMaxBatchSize``; each event within by ``maxEventSize``."""
    params = open_params.strip()
    if not params:
        raise PluginError(
            "k8saudit: open_params is empty; use http://:9765/k8s-audit, "
            "file:///path/to/audit.log or a path to a file or directory")
    scheme = urlsplit(params).scheme if "://" in params else ""
    max_line = max(config.webhook_max_batch_size, config.max_event_size)
    try:
        if scheme in ("http", "https"):
            url = urlsplit(params)
            try:
                port = url.port
            except ValueError as exc:
                raise ValueError(f"invalid port in '{params}': {exc}") from None
            if port is None:
                raise ValueError(f"'{params}' has no port (e.g. http://:9765/k8s-audit)")
            return WebhookInstance(
                scheme=scheme, host=url.hostname or "", port=port, path=url.path,
                config=config, plugin_id=plugin_id)
        if scheme == "file":
            url = urlsplit(params)
            if url.netloc not in ("", "localhost"):
                # upstream silently reads "file://x/y" as host x, path /y
                raise ValueError(
                    f"file:// needs an absolute path (file:///var/log/audit.log); "
                    f"'{url.netloc}' would be read as a host name")
            return TailInstance(url.path, plugin_id=plugin_id,
                                max_event_size=config.max_event_size, max_line=max_line)
        if scheme:
            raise ValueError(f'scheme "{scheme}" is not supported')
        return OneShotInstance(params, plugin_id=plugin_id,
                               max_event_size=config.max_event_size, max_line=max_line)
    except PluginError:
        raise
    except (OSError, ValueError) as exc:
        raise PluginError(f"k8saudit: cannot open '{params}': {exc}") from exc


def open_source(ctx: OpenContext) -> SourceInstance:
    """``SourceSpec.open`` of the k8saudit plugin."""
    return open_instance(ctx.open_params, K8sAuditConfig.from_init_config(ctx.init_config))
