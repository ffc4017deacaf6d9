"""Falco's command line (falco-core.md §9.1), parsed into :class:`Options`.

Parse errors raise :class:`OptionsError` and end with ``Error: <message>``, exit 1, as cxxopts'
errors do in Falco. Options with an optional value need ``=`` (``--list=syscall``), as in Falco.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..errors import PyfalcoError


class OptionsError(PyfalcoError):
    pass


@dataclass
class Options:
    help: bool = False
    conf_filename: str | None = None
    print_config_schema: bool = False
    print_rule_schema: bool = False
    disable_sources: list[str] = field(default_factory=list)
    enable_sources: list[str] = field(default_factory=list)
    dry_run: bool = False
    describe_all_rules: bool = False
    describe_rule: str | None = None
    list_fields: bool = False
    list_source_fields: str = ""
    list_plugins: bool = False
    duration: int = 0
    output_format: str = "text"
    markdown: bool = False
    names_only: bool = False
    cmdline_config_options: list[str] = field(default_factory=list)
    print_plugin_info: str | None = None
    print_additional: str | None = None
    pidfilename: str | None = None
    rules_filenames: list[str] = field(default_factory=list)
    print_support: bool = False
    unbuffered_outputs: bool = False
    validate_rules_filenames: list[str] = field(default_factory=list)
    verbose: bool = False
    print_version_info: bool = False
    print_page_size: bool = False
    print_ignored_events: bool = False
    list_syscall_events: bool = False
    #: ``--<kind>-generate-config[=ARG]``: (kind, arg or None)
    generate_config: tuple[str, str | None] | None = None
    argv: list[str] = field(default_factory=list)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise OptionsError(message)


#: Options with an implicit value: only ``--opt=value`` gives them a value (cxxopts).
_IMPLICIT = {"--list": "list_source_fields"}
#: ``--<kind>-generate-config`` options the core knows (the gvisor engine provides it).
GENERATE_CONFIG_KINDS = ("gvisor",)


def _parser() -> _Parser:
    p = _Parser(prog="pyfalco", add_help=False, allow_abbrev=False)
    a = p.add_argument
    a("-h", "--help", action="store_true", dest="help")
    a("-c", dest="conf_filename")
    a("--config-schema", action="store_true", dest="print_config_schema")
    a("--rule-schema", action="store_true", dest="print_rule_schema")
    a("--disable-source", action="append", dest="disable_sources", default=[])
    a("--enable-source", action="append", dest="enable_sources", default=[])
    a("--dry-run", action="store_true", dest="dry_run")
    a("-L", action="store_true", dest="describe_all_rules")
    a("-l", dest="describe_rule")
    a("--list-plugins", action="store_true", dest="list_plugins")
    a("-i", action="store_true", dest="print_ignored_events")
    a("--list-events", action="store_true", dest="list_syscall_events")
    a("-M", dest="duration", type=int, default=0)
    a("--format", dest="output_format", default=None)
    a("--markdown", action="store_true", dest="markdown")
    a("-N", action="store_true", dest="names_only")
    a("-o", "--option", action="append", dest="cmdline_config_options", default=[])
    a("--plugin-info", dest="print_plugin_info")
    a("-p", "--print", dest="print_additional")
    a("-P", "--pidfile", dest="pidfilename")
    a("-r", action="append", dest="rules_filenames", default=[])
    a("--support", action="store_true", dest="print_support")
    a("-U", "--unbuffered", action="store_true", dest="unbuffered_outputs")
    a("-V", "--validate", action="append", dest="validate_rules_filenames", default=[])
    a("-v", action="store_true", dest="verbose")
    a("--version", action="store_true", dest="print_version_info")
    a("--page-size", action="store_true", dest="print_page_size")
    return p


def parse(argv: list[str]) -> Options:
    """Parse ``argv`` (without the program name)."""
    opts = Options(argv=list(argv))
    rest: list[str] = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        if name in _IMPLICIT:
            opts.list_fields = True
            opts.list_source_fields = value if eq else ""
            continue
        kind = name[2:-len("-generate-config")] if name.endswith("-generate-config") else None
        if name.startswith("--") and kind in GENERATE_CONFIG_KINDS:
            opts.generate_config = (kind, value if eq else None)
            continue
        rest.append(arg)
    ns, extra = _parser().parse_known_args(rest)
    if extra:
        unknown = extra[0].split("=", 1)[0].lstrip("-")
        raise OptionsError(f"Option '{unknown}' does not exist")
    for key, value in vars(ns).items():
        setattr(opts, key, value)
    if opts.markdown and opts.output_format is not None:
        raise OptionsError("Cannot specify both --markdown and --format options together")
    fmt = "markdown" if opts.markdown else (opts.output_format or "text")
    if fmt.lower() not in ("text", "markdown", "json"):
        raise OptionsError(f"Invalid format '{fmt}'. Valid values are: text, markdown, json")
    opts.output_format = fmt.lower()
    return opts


USAGE = """\
pyfalco - a Falco-compatible runtime-security engine
Usage:
  pyfalco [OPTION...]

  -h, --help                    Print this help list and exit.
  -c <path>                     Configuration file. If not specified, /etc/falco/falco.yaml is
                                used if it exists, else the configuration shipped with pyfalco.
      --config-schema           Print the config json schema and exit.
      --rule-schema             Print the rule json schema and exit.
      --disable-source <event_source>
                                Turn off a specific <event_source>. By default, all loaded
                                sources get enabled. Can be passed multiple times. Can not
                                disable all event sources. Can not be mixed with
                                --enable-source. This option has no effect when reproducing
                                events from a capture file.
      --dry-run                 Run Falco without processing events. Can be useful for checking
                                that the configuration and rules do not have any errors.
      --enable-source <event_source>
                                Enable a specific <event_source>. By default, all loaded sources
                                get enabled. Can be passed multiple times. When using this
                                option, only the event sources specified by it will be enabled.
                                Can not be mixed with --disable-source. This option has no
                                effect when reproducing events from a capture file.
      --gvisor-generate-config[=<socket_path>]
                                Generate a configuration file that can be used for gVisor and
                                exit (needs pyfalco-plugin-gvisor).
  -L                            Show the name and description of all rules and exit. If
                                json_output is set to true, it prints details about all rules,
                                macros, and lists in JSON format.
  -l <rule>                     Show the name and description of the rule specified <rule> and
                                exit. If json_output is set to true, it prints details about the
                                rule in JSON format.
  -i                            Print the syscalls that are ignored by default for performance
                                reasons and exit (needs pyfalco-plugin-syscall).
      --list [=<source>]        List all defined fields and exit. If <source> is provided, only
                                list those fields for the source <source>.
      --list-events             List all defined syscall events, metaevents, tracepoint events
                                and exit (needs pyfalco-plugin-syscall).
      --list-plugins            Print info on all loaded plugins and exit.
  -M <num_seconds>              Stop Falco execution after <num_seconds> are passed. (default: 0)
      --format <format>         Print output in the specified <format> (text, markdown, json).
      --markdown                DEPRECATED: use --format markdown instead.
  -N                            Only print field names when used with --list.
  -o, --option <opt>=<val>      Set the value of option <opt> to <val>. Overrides values in the
                                configuration file. <opt> can be identified using its location
                                in the configuration file using dot notation. Elements of list
                                entries can be accessed via square brackets [].
      --plugin-info <plugin_name>
                                Print info for the plugin specified by <plugin_name> and exit.
  -p, --print <output_format>   DEPRECATED: use -o append_output... instead.
  -P, --pidfile <pid_file>      Write PID to specified <pid_file> path.
  -r <rules_file>               Rules file or directory to be loaded. This option can be passed
                                multiple times. Falco defaults to the values in the configuration
                                file when this option is not specified. Only files with .yml or
                                .yaml extension are considered.
      --support                 Print support information, including version, rules files used,
                                loaded configuration, etc., and exit.
  -U, --unbuffered              Turn off output buffering for configured outputs.
  -V, --validate <rules_file>   Read the contents of the specified <rules_file> file(s), validate
                                the loaded rules, and exit. This option can be passed multiple
                                times to validate multiple files.
  -v                            Enable verbose output.
      --version                 Print version information and exit.
      --page-size               Print the system page size and exit.
"""
