"""The ``ka.*`` fields: one table (:data:`FIELDS`) of ``FieldSpec`` objects, in upstream's order.

Family plugins (k8saudit-eks, k8saudit-gke) register this very list: the core treats the same
``FieldSpec`` objects registered by two plugins as no overlap.

Semantics follow upstream k8saudit 0.18.0 (spec/plugins.md §2.7, §2.8): every field is a string
(lists are string lists); a JSON string is its raw text and any other JSON value its compact
JSON; a missing path, a wrong type or an empty list is "no value" (``None``); an event without
``auditID`` has no ``ka.*`` value at all. The quirks decided differently are listed in the
README ("Upstream quirks") and marked ``# quirk:`` here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from pyfalco import speedups
from pyfalco.api import Event, FieldArg, FieldSpec, FieldType

from .payload import PARTIAL_MEMBERS, Raw, decode_raw, member, raw_path

_dumps = orjson.dumps
_MISSING: Any = object()
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_INDEX = FieldArg(index=True)
_KEY_REQUIRED = FieldArg(required=True, key=True)


class _WrongType(Exception):
    """A value of an unexpected JSON type: the whole field has no value (upstream's error)."""


def render(value: Any) -> str:
    """A JSON value as upstream renders it: strings raw, anything else compact JSON."""
    if type(value) is str:
        return value
    if type(value) is int:  # the same text as JSON, without a dumps
        return str(value)
    if value is True:  # securityContext flags and the like
        return "true"
    if value is False:
        return "false"
    if type(value) is Raw:  # a member not decoded yet (its text may have other whitespace)
        value = decode_raw(value)
    return _dumps(value).decode()


def audit_object(evt: Event) -> dict[str, Any] | None:
    """The audit event of ``evt`` when it has an ``auditID`` (upstream's guard), else None.

    Events made by :func:`make_event` carry the answer in ``evt.audit`` (computed once per
    event); any other event of the source is parsed through ``Event.json()``."""
    try:
        return evt.audit  # type: ignore[attr-defined, no-any-return]
    except AttributeError:
        pass
    obj = evt.json()
    if type(obj) is dict and "auditID" in obj:
        return obj
    return None


def _walk(obj: Any, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if type(obj) is not dict:
            return _MISSING
        v = obj.get(k, _MISSING)
        if v is _MISSING:
            return _MISSING
        if type(v) is Raw:  # requestObject/responseObject of a file line (k is keys[0])
            if k in PARTIAL_MEMBERS and len(keys) > 1:
                return raw_path(v, keys[1:], _MISSING)
            v = member(obj, k)
        obj = v
    return obj


# -- builders ------------------------------------------------------------------------------


def _scalar_slow(keys: tuple[str, ...]) -> Callable[[Event], str | None]:
    """A key path rendered as one string: every case (raw members, wrong types, events
    without ``audit``)."""

    def scalar(evt: Event) -> str | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        v = _walk(obj, keys)
        if v is _MISSING:
            return None
        return v if type(v) is str else render(v)

    return scalar


def _scalar(*keys: str) -> Callable[[Event], str | None]:
    """A key path rendered as one string: the most read fields of the plugin (user, verb,
    objectRef...). A ``pyfalco.speedups`` path getter answers a str or int at the end of a
    path of dicts (an int's text is its JSON) and hands anything else to the general
    function."""
    return speedups.path_getter(  # type: ignore[no-any-return]
        "audit", keys, _scalar_slow(keys), int_as_text=True)


def _list(*keys: str) -> Callable[[Event], list[str] | None]:
    """A key path holding an array: one string per element (not an array: no value)."""

    def extract(evt: Event) -> list[str] | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        v = _walk(obj, keys)
        if type(v) is not list or not v:
            return None
        return [x if type(x) is str else render(x) for x in v]

    return extract


def _items(obj: dict[str, Any], keys: tuple[str, ...], index: int | None) -> list[Any] | None:
    """The array at ``keys``, or only its ``index``-th element; None when absent/out of range."""
    arr = _walk(obj, keys)
    return _select(arr, index) if type(arr) is list else None


def _array(keys: tuple[str, ...]) -> Callable[[Event], list[Any] | None]:
    """The event's array at ``keys`` (None when absent, not an array, or without an audit
    object): where every list field over containers, volumes or role rules starts; read as
    :func:`_scalar` reads its value."""

    def array(evt: Event) -> list[Any] | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        arr = _walk(obj, keys)
        return arr if type(arr) is list else None

    return speedups.path_getter("audit", keys, array, leaf=list)  # type: ignore[no-any-return]


def _select(arr: list[Any] | None, index: int | None) -> list[Any] | None:
    """``arr``, or only its ``index``-th element; None when out of range."""
    if arr is None or index is None:
        return arr
    if 0 <= index < len(arr):
        return [arr[index]]
    return None


def _per_item(
    array_keys: tuple[str, ...],
    values: Callable[[Any, dict[str, Any]], list[str]],
) -> Callable[[Event, int | None], list[str] | None]:
    """A list field over the elements of an array (containers, volumes, rules): ``values(item,
    audit_obj)`` gives each element's strings; the index argument selects one element.

    The two most used shapes (a leaf path per element, a required key per element, possibly
    mapped) get a loop of their own, without a call and a list per element."""
    leaf: tuple[str, ...] | None = getattr(values, "leaf_keys", None)
    required: str | None = getattr(values, "required_key", None)
    if leaf is not None:
        return _per_item_leaf(array_keys, leaf)
    if required is not None:
        return _per_item_required(array_keys, required, getattr(values, "mapper", None))

    def extract(evt: Event, index: int | None = None) -> list[str] | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        items = _items(obj, array_keys, index)
        if items is None:
            return None
        out: list[str] = []
        try:
            for item in items:
                out.extend(values(item, obj))
        except _WrongType:
            return None
        return out or None

    return extract


def _per_item_leaf(
    array_keys: tuple[str, ...], keys: tuple[str, ...]
) -> Callable[[Event, int | None], list[str] | None]:
    # the elements' values at ``keys``, rendered (elements are decoded: no raw member inside)
    leaves = speedups.leaves
    array = _array(array_keys)

    def extract(evt: Event, index: int | None = None) -> list[str] | None:
        items = array(evt)
        if items is None:
            return None
        if index is not None:
            items = _select(items, index)
            if items is None:
                return None
        return leaves(items, keys, render) or None

    return extract


def _per_item_required(
    array_keys: tuple[str, ...], key: str, mapper: Callable[[str], str] | None
) -> Callable[[Event, int | None], list[str] | None]:
    array = _array(array_keys)
    leaves = speedups.leaves
    path = (key,)

    def extract(evt: Event, index: int | None = None) -> list[str] | None:
        items = array(evt)
        if items is None:
            return None
        if index is not None:
            items = _select(items, index)
            if items is None:
                return None
        out = leaves(items, path, render)
        if len(out) != len(items):
            return None  # upstream: a wrong type error, no value for the whole field
        if mapper is not None:
            out = [mapper(v) for v in out]
        return out or None

    return extract


def _leaf(*keys: str) -> Callable[[Any, dict[str, Any]], list[str]]:
    """An element's value at ``keys``; elements without it are skipped (upstream skips nulls)."""

    def values(item: Any, _obj: dict[str, Any]) -> list[str]:
        v = _walk(item, keys)
        return [] if v is _MISSING else [render(v)]

    values.leaf_keys = keys  # type: ignore[attr-defined] - _per_item's fast loop
    return values


def _required_leaf(
    key: str, mapper: Callable[[str], str] | None = None
) -> Callable[[Any, dict[str, Any]], list[str]]:
    """Every element must have ``key`` (container name, image): else no value for the field.
    ``mapper`` transforms each value (the image's repository)."""

    def values(item: Any, _obj: dict[str, Any]) -> list[str]:
        v = item.get(key, _MISSING) if type(item) is dict else _MISSING
        if v is _MISSING:
            raise _WrongType(key)
        v = render(v)
        return [v if mapper is None else mapper(v)]

    values.required_key = key  # type: ignore[attr-defined] - _per_item's fast loop
    values.mapper = mapper  # type: ignore[attr-defined]
    return values


def _flattened(*keys: str) -> Callable[[Any, dict[str, Any]], list[str]]:
    """An element's array at ``keys``, one value per entry (role-rule fields, capabilities)."""

    def values(item: Any, _obj: dict[str, Any]) -> list[str]:
        v = _walk(item, keys)
        if type(v) is not list:
            return []
        return [x if type(x) is str else render(x) for x in v if x is not None]

    return values


def _joined(key: str) -> Callable[[Any, dict[str, Any]], list[str]]:
    """``command``/``args``: the array joined with single spaces, one value per container."""

    def values(item: Any, _obj: dict[str, Any]) -> list[str]:
        v = item.get(key) if type(item) is dict else None
        if v is None:
            return []
        if type(v) is not list or any(type(x) is not str for x in v):
            raise _WrongType(key)
        return [" ".join(v)]

    return values


def image_repository(image: str) -> str:
    """The repository part of an image reference: digest and tag removed.

    quirk: upstream cuts at the first ``:``, so ``localhost:5000/app:1`` gives ``localhost``;
    here the tag is only looked for after the last ``/`` (``localhost:5000/app``). For images
    without a registry port both give the same result."""
    repository = _REPOSITORIES.get(image)
    if repository is None:
        ref = image.split("@", 1)[0]
        slash = ref.rfind("/")
        colon = ref.find(":", slash + 1)
        repository = ref if colon < 0 else ref[:colon]
        if len(_REPOSITORIES) >= _REPOSITORIES_MAX:
            _REPOSITORIES.clear()
        _REPOSITORIES[image] = repository
    return repository


#: image -> repository: a cluster runs few distinct images (bounded: cleared when full)
_REPOSITORIES: dict[str, str] = {}
_REPOSITORIES_MAX = 4096


_repositories = _required_leaf("image", image_repository)


def _effective(key: str) -> Callable[[Any, dict[str, Any]], list[str]]:
    """quirk: upstream reads ``runAsUser`` on the container and ``spec.runAsUser`` on the pod,
    missing the ``securityContext`` level, so it answers 0 for real pods. Here: the container's
    securityContext, else the pod's securityContext, else 0 — the documented meaning."""

    def values(item: Any, obj: dict[str, Any]) -> list[str]:
        v = _walk(item, ("securityContext", key))
        if v is _MISSING or v is None:
            v = _walk(obj, ("requestObject", "spec", "securityContext", key))
            if v is _MISSING or v is None:
                return ["0"]
        return [render(v)]

    return values


def _host_ports(item: Any, _obj: dict[str, Any]) -> list[str]:
    ports = item.get("ports") if type(item) is dict else None
    if ports is None:
        return []
    if type(ports) is not list:
        raise _WrongType("ports")
    out = []
    for port in ports:
        if type(port) is not dict:
            continue
        v = port.get("hostPort", _MISSING)
        if v is _MISSING:
            v = port.get("containerPort", _MISSING)
        if v is not _MISSING:
            out.append(render(v))
    return out


def _volume_types(item: Any, _obj: dict[str, Any]) -> list[str]:
    if type(item) is not dict:
        raise _WrongType("volume")
    return [k for k in item if k != "name"]


# -- fields with their own logic -----------------------------------------------------------


def _uri_param(evt: Event, key: str | None) -> str | None:
    obj = audit_object(evt)
    if obj is None or not key:
        return None
    uri = obj.get("requestURI")
    if type(uri) is not str:
        return None
    try:
        query = urlsplit(uri).query
    except ValueError:
        return None
    if ";" in query or _BAD_ESCAPE.search(query):
        # Go's url.ParseQuery refuses ';' separators and invalid %-escapes: no value upstream
        return None
    return _query_value(query, key)


def _query_value(query: str, key: str) -> str | None:
    """The first value of ``key`` in ``query``, as ``parse_qs(keep_blank_values=True)`` (and
    Go's ``url.ParseQuery``) read it: ``&``-separated, empty parts skipped, ``name`` alone =
    blank value, ``+`` = space, %-escapes decoded. A scan instead of parse_qs: 20x cheaper."""
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if name == key:
            if "%" in value or "+" in value:
                return unquote(value.replace("+", " "))
            return value
    return None


def _target_pod_name(evt: Event) -> str | None:
    obj = audit_object(evt)
    if obj is None:
        return None
    ref = obj.get("objectRef")
    if type(ref) is not dict or ref.get("resource") != "pods" or ref.get("subresource"):
        return None
    v = _walk(obj, ("responseObject", "metadata", "name"))
    return None if v is _MISSING else render(v)


def _subject_names(kind: str, with_namespace: bool = False) -> Callable[[Event], list[str] | None]:
    def extract(evt: Event) -> list[str] | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        subjects = _walk(obj, ("requestObject", "subjects"))
        if type(subjects) is not list:
            return None
        out = []
        for s in subjects:
            if type(s) is not dict or s.get("kind") != kind or "name" not in s:
                continue
            if with_namespace:
                ns = s.get("namespace")
                if not ns:
                    continue
                out.append(f"{render(ns)}:{render(s['name'])}")
            else:
                out.append(render(s["name"]))
        return out or None

    return extract


def _binding_subject_has_name(evt: Event, _name: str | None) -> str | None:
    # Deprecated upstream and documented as N/A, yet it answers "true" for every audit event
    # (kept: legacy rules such as engine_v4's depend on it).
    return "true" if audit_object(evt) is not None else None


def _volume_hostpath(evt: Event, pattern: str | None) -> str | None:
    obj = audit_object(evt)
    if obj is None or not pattern:
        return None
    volumes = _walk(obj, ("requestObject", "spec", "volumes"))
    if type(volumes) is not list:
        return None
    prefix = pattern[:-1] if pattern.endswith("*") else None
    for vol in volumes:
        path = _walk(vol, ("hostPath", "path"))
        if path is _MISSING:
            continue
        path = render(path)
        if path == pattern or (prefix is not None and path.startswith(prefix)):
            return "true"
    return "false"


_ItemValues = Callable[[Any, dict[str, Any]], list[str]]


def _first_container(values: _ItemValues) -> Callable[[Event], str | None]:
    def extract(evt: Event) -> str | None:
        obj = audit_object(evt)
        if obj is None:
            return None
        containers = _walk(obj, ("requestObject", "spec", "containers"))
        if type(containers) is not list or not containers:
            return None
        try:
            got = values(containers[0], obj)
        except _WrongType:
            return None
        return got[0] if got else None

    return extract


def _any_container_privileged(evt: Event) -> str | None:
    obj = audit_object(evt)
    if obj is None:
        return None
    containers = _walk(obj, ("requestObject", "spec", "containers"))
    if type(containers) is not list:
        return None
    for c in containers:
        if _walk(c, ("securityContext", "privileged")) is True:
            return "true"
    return "false"


# -- the table -----------------------------------------------------------------------------

_RO = ("requestObject",)
_SPEC = ("requestObject", "spec")


def _binder(extract: Callable[..., Any]) -> Callable[[Any], Callable[[Event], Any]]:
    """``FieldSpec.bind`` for a field with an argument. Without one (the usual form,
    ``ka.req.pod.containers.image``) an extractor whose argument defaults to None is itself the
    one-argument extractor: no ``lambda evt: extract(evt, None)`` frame on every call."""

    def bind(arg: Any) -> Callable[[Event], Any]:
        if arg is None and not _takes_required_arg(extract):
            return extract  # type: ignore[no-any-return]
        return lambda evt: extract(evt, arg)

    return bind


def _takes_required_arg(extract: Callable[..., Any]) -> bool:
    defaults = getattr(extract, "__defaults__", None)
    return not defaults


def _f(name: str, desc: str, extract: Callable[..., Any], *, is_list: bool = False,
       arg: FieldArg | None = None) -> FieldSpec:
    return FieldSpec(name=name, type=FieldType.STRING, desc=desc, extract=extract,
                     is_list=is_list, arg=arg, bind=None if arg is None else _binder(extract))


def _container_fields(list_name: str, label: str, host_port: bool) -> list[FieldSpec]:
    keys = (*_SPEC, list_name)
    p = f"ka.req.pod.{list_name}"
    w = f"When the request object is a pod, for each of its {label}"
    fields = [
        _f(f"{p}.name", f"{w}: its name.", _per_item(keys, _required_leaf("name")),
           is_list=True, arg=_INDEX),
        _f(f"{p}.image", f"{w}: its image.", _per_item(keys, _required_leaf("image")),
           is_list=True, arg=_INDEX),
        _f(f"{p}.image.repository", f"{w}: the repository of its image (no tag, no digest).",
           _per_item(keys, _repositories), is_list=True, arg=_INDEX),
        _f(f"{p}.command", f"{w}: its command, arguments joined by spaces.",
           _per_item(keys, _joined("command")), is_list=True, arg=_INDEX),
        _f(f"{p}.args", f"{w}: its args, joined by spaces.",
           _per_item(keys, _joined("args")), is_list=True, arg=_INDEX),
        _f(f"{p}.privileged", f"{w}: its securityContext.privileged flag.",
           _per_item(keys, _leaf("securityContext", "privileged")), is_list=True, arg=_INDEX),
        _f(f"{p}.allow_privilege_escalation",
           f"{w}: its securityContext.allowPrivilegeEscalation flag.",
           _per_item(keys, _leaf("securityContext", "allowPrivilegeEscalation")),
           is_list=True, arg=_INDEX),
        _f(f"{p}.read_only_fs", f"{w}: its securityContext.readOnlyRootFilesystem flag.",
           _per_item(keys, _leaf("securityContext", "readOnlyRootFilesystem")),
           is_list=True, arg=_INDEX),
        _f(f"{p}.run_as_user", f"{w}: its securityContext.runAsUser uid.",
           _per_item(keys, _leaf("securityContext", "runAsUser")), is_list=True, arg=_INDEX),
        _f(f"{p}.eff_run_as_user",
           f"{w}: the uid it runs as (its own runAsUser, else the pod's, else 0).",
           _per_item(keys, _effective("runAsUser")), is_list=True, arg=_INDEX),
        _f(f"{p}.run_as_group", f"{w}: its securityContext.runAsGroup gid.",
           _per_item(keys, _leaf("securityContext", "runAsGroup")), is_list=True, arg=_INDEX),
        _f(f"{p}.eff_run_as_group",
           f"{w}: the gid it runs as (its own runAsGroup, else the pod's, else 0).",
           _per_item(keys, _effective("runAsGroup")), is_list=True, arg=_INDEX),
        _f(f"{p}.proc_mount", f"{w}: its securityContext.procMount type.",
           _per_item(keys, _leaf("securityContext", "procMount")), is_list=True, arg=_INDEX),
        _f(f"{p}.add_capabilities",
           f"{w}: each capability it adds (securityContext.capabilities.add).",
           _per_item(keys, _flattened("securityContext", "capabilities", "add")),
           is_list=True, arg=_INDEX),
    ]
    if host_port:
        fields.append(_f(f"{p}.host_port", f"{w}: each port's hostPort (else containerPort).",
                         _per_item(keys, _host_ports), is_list=True, arg=_INDEX))
    return fields


def _build() -> list[FieldSpec]:
    containers = {f.name: f for f in _container_fields("containers", "containers", True)}
    c = "ka.req.pod.containers."
    role_rules = (*_RO, "rules")
    volumes = (*_SPEC, "volumes")
    ann = "annotations"
    base = [
        _f("ka.auditid", "The unique id of the audit event.", _scalar("auditID")),
        _f("ka.stage", "The stage of the request (RequestReceived, ResponseStarted, "
           "ResponseComplete, Panic).", _scalar("stage")),
        _f("ka.auth.decision", "The authorization decision (allow, forbid).",
           _scalar(ann, "authorization.k8s.io/decision")),
        _f("ka.auth.reason", "The reason of the authorization decision.",
           _scalar(ann, "authorization.k8s.io/reason")),
        _f("ka.auth.openshift.decision", "The OpenShift authentication decision.",
           _scalar(ann, "authentication.openshift.io/decision")),
        _f("ka.validations.admission.policy.failure",
           "The failure reported by a validating admission policy.",
           _scalar(ann, "validation.policy.admission.k8s.io/validation_failure")),
        _f("ka.security.pod.violations", "The Pod Security admission audit violations.",
           _scalar(ann, "pod-security.kubernetes.io/audit-violations")),
        _f("ka.auth.openshift.username", "The user name given by OpenShift authentication.",
           _scalar(ann, "authentication.openshift.io/username")),
        _f("ka.user.name", "The name of the user making the request.",
           _scalar("user", "username")),
        _f("ka.user.groups", "The groups of the user making the request.",
           _list("user", "groups"), is_list=True),
        _f("ka.impuser.name", "The name of the impersonated user.",
           _scalar("impersonatedUser", "username")),
        _f("ka.verb", "The action requested (get, list, create, update, patch, delete...).",
           _scalar("verb")),
        _f("ka.uri", "The request URI as the client sent it.", _scalar("requestURI")),
        _f("ka.uri.param", "The first value of a query parameter of the request URI "
           "(ka.uri.param[command]).", _uri_param, arg=_KEY_REQUIRED),
        _f("ka.target.name", "The name of the target object.", _scalar("objectRef", "name")),
        _f("ka.target.namespace", "The namespace of the target object.",
           _scalar("objectRef", "namespace")),
        _f("ka.target.resource", "The resource of the target object (pods, secrets...).",
           _scalar("objectRef", "resource")),
        _f("ka.target.subresource", "The subresource of the target object (exec, log...).",
           _scalar("objectRef", "subresource")),
        _f("ka.target.pod.name", "For requests on pods (no subresource), the name of the pod "
           "in the response object.", _target_pod_name),
        _f("ka.req.binding.subjects", "When the request object is a (cluster) role binding, "
           "each of its subjects as JSON.", _list(*_RO, "subjects"), is_list=True),
        _f("ka.req.binding.subjects.user_names", "When the request object is a (cluster) role "
           "binding, the names of its User subjects.", _subject_names("User"), is_list=True),
        _f("ka.req.binding.subjects.serviceaccount_names", "When the request object is a "
           "(cluster) role binding, the names of its ServiceAccount subjects.",
           _subject_names("ServiceAccount"), is_list=True),
        _f("ka.req.binding.subjects.serviceaccount_ns_names", "When the request object is a "
           "(cluster) role binding, its ServiceAccount subjects as namespace:name.",
           _subject_names("ServiceAccount", with_namespace=True), is_list=True),
        _f("ka.req.binding.subjects.group_names", "When the request object is a (cluster) role "
           "binding, the names of its Group subjects.", _subject_names("Group"), is_list=True),
        _f("ka.req.binding.role", "When the request object is a (cluster) role binding, the "
           "name of the role it binds.", _scalar(*_RO, "roleRef", "name")),
        _f("ka.req.binding.subject.has_name", "Deprecated; kept for old rules: \"true\" for "
           "every audit event, whatever the argument.", _binding_subject_has_name,
           arg=_KEY_REQUIRED),
        _f("ka.req.configmap.name", "When the request object is a configmap, its name.",
           _scalar("objectRef", "name")),
        _f("ka.req.configmap.obj", "When the request object is a configmap, its data as JSON.",
           _scalar(*_RO, "data")),
        containers[c + "args"],
        containers[c + "command"],
        containers[c + "name"],
        containers[c + "image"],
        _f("ka.req.container.image", "Deprecated by ka.req.pod.containers.image: the image of "
           "the first container.", _first_container(_required_leaf("image"))),
        containers[c + "image.repository"],
        _f("ka.req.container.image.repository", "Deprecated by "
           "ka.req.pod.containers.image.repository: the repository of the first container.",
           _first_container(_repositories)),
        _f("ka.req.pod.host_ipc", "When the request object is a pod, its hostIPC flag.",
           _scalar(*_SPEC, "hostIPC")),
        _f("ka.req.pod.host_network", "When the request object is a pod, its hostNetwork flag.",
           _scalar(*_SPEC, "hostNetwork")),
        _f("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network.",
           _scalar(*_SPEC, "hostNetwork")),
        _f("ka.req.pod.host_pid", "When the request object is a pod, its hostPID flag.",
           _scalar(*_SPEC, "hostPID")),
        containers[c + "host_port"],
        containers[c + "privileged"],
        _f("ka.req.container.privileged", "Deprecated by ka.req.pod.containers.privileged: "
           "true if any container is privileged, else false.", _any_container_privileged),
        containers[c + "allow_privilege_escalation"],
        containers[c + "read_only_fs"],
        _f("ka.req.pod.run_as_user", "When the request object is a pod, the runAsUser uid of "
           "its securityContext.", _scalar(*_SPEC, "securityContext", "runAsUser")),
        containers[c + "run_as_user"],
        containers[c + "eff_run_as_user"],
        _f("ka.req.pod.run_as_group", "When the request object is a pod, the runAsGroup gid of "
           "its securityContext.", _scalar(*_SPEC, "securityContext", "runAsGroup")),
        containers[c + "run_as_group"],
        containers[c + "eff_run_as_group"],
        containers[c + "proc_mount"],
        _f("ka.req.role.rules", "When the request object is a (cluster) role, each of its rules "
           "as JSON.", _list(*_RO, "rules"), is_list=True),
        _f("ka.req.role.rules.apiGroups", "When the request object is a (cluster) role, the API "
           "groups of its rules (the index selects a rule).",
           _per_item(role_rules, _flattened("apiGroups")), is_list=True, arg=_INDEX),
        _f("ka.req.role.rules.nonResourceURLs", "When the request object is a (cluster) role, "
           "the non-resource URLs of its rules (the index selects a rule).",
           _per_item(role_rules, _flattened("nonResourceURLs")), is_list=True, arg=_INDEX),
        _f("ka.req.role.rules.verbs", "When the request object is a (cluster) role, the verbs "
           "of its rules (the index selects a rule).",
           _per_item(role_rules, _flattened("verbs")), is_list=True, arg=_INDEX),
        _f("ka.req.role.rules.resources", "When the request object is a (cluster) role, the "
           "resources of its rules (the index selects a rule).",
           _per_item(role_rules, _flattened("resources")), is_list=True, arg=_INDEX),
        _f("ka.req.pod.fs_group", "When the request object is a pod, the fsGroup gid of its "
           "securityContext.", _scalar(*_SPEC, "securityContext", "fsGroup")),
        _f("ka.req.pod.supplemental_groups", "When the request object is a pod, the "
           "supplementalGroups gids of its securityContext.",
           _list(*_SPEC, "securityContext", "supplementalGroups"), is_list=True),
        containers[c + "add_capabilities"],
        _f("ka.req.service.type", "When the request object is a service, its type.",
           _scalar(*_SPEC, "type")),
        # quirk: upstream gives the whole ports array as one JSON value; here one JSON value
        # per port, the index selecting a port.
        _f("ka.req.service.ports", "When the request object is a service, each of its ports "
           "as JSON.", _per_item((*_SPEC, "ports"), lambda p, _o: [render(p)]),
           is_list=True, arg=_INDEX),
        _f("ka.req.pod.volumes.hostpath", "When the request object is a pod, the hostPath path "
           "of each of its volumes.", _per_item(volumes, _leaf("hostPath", "path")),
           is_list=True, arg=_INDEX),
        _f("ka.req.volume.hostpath", "Deprecated by ka.req.pod.volumes.hostpath: true if a "
           "volume uses the host path given as argument (a trailing * matches a prefix).",
           _volume_hostpath, arg=_KEY_REQUIRED),
        _f("ka.req.pod.volumes.flexvolume_driver", "When the request object is a pod, the "
           "flexVolume driver of each of its volumes.",
           _per_item(volumes, _leaf("flexVolume", "driver")), is_list=True, arg=_INDEX),
        _f("ka.req.pod.volumes.volume_type", "When the request object is a pod, the type of "
           "each of its volumes (hostPath, configMap, emptyDir...).",
           _per_item(volumes, _volume_types), is_list=True, arg=_INDEX),
        _f("ka.resp.name", "The name of the response object.",
           _scalar("responseObject", "metadata", "name")),
        _f("ka.response.code", "The response code (201, 403...).",
           _scalar("responseStatus", "code")),
        _f("ka.response.reason", "The response reason (mostly on failures).",
           _scalar("responseStatus", "reason")),
        _f("ka.useragent", "The user agent of the client of the API server.",
           _scalar("userAgent")),
        # quirk: upstream reads requestObject.rules[*].sourceIPs (so never has a value); here
        # the event's own sourceIPs, as documented.
        _f("ka.sourceips", "The source IP addresses of the request (the index selects one).",
           _per_item(("sourceIPs",), lambda ip, _o: [render(ip)]), is_list=True, arg=_INDEX),
        _f("ka.cluster.name", "The name of the cluster (annotation cluster_name, set by the "
           "cloud plugins).", _scalar(ann, "cluster_name")),
    ]
    init = _container_fields("initContainers", "init containers", True)
    ephemeral = _container_fields("ephemeralContainers", "ephemeral containers", False)
    return base + init + ephemeral


#: Every ``ka.*`` field, in upstream's order (100 fields).
FIELDS: list[FieldSpec] = _build()
