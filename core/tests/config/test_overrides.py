"""-o key=value: Falco's key-path grammar, append, objects, typing (falco-core.md §4.2)."""

from __future__ import annotations

import pytest
from pyfalco.config.overrides import APPEND, Override, normalize, parse_key, typed_scalar
from pyfalco.errors import ConfigError


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("base.id", ["base", "id"]),
        ("base.list[1]", ["base", "list", 1]),
        ("plugins[0].init_config.foo", ["plugins", 0, "init_config", "foo"]),
        ("MatrixValue[1][3]", ["MatrixValue", 1, 3]),
        ("rules_files[]", ["rules_files", APPEND]),
        (r"annotations.kubernetes\.io/role", ["annotations", "kubernetes.io/role"]),
        (r"a\[b\]\\c", ["a", "a[b]\\c"][1:] and ["a[b]\\c"]),
    ],
)
def test_key_grammar(key, path):
    assert parse_key(key) == path


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        ("a\\", "trailing backslash at pos 1"),
        ("a\\x", "invalid escape sequence '\\x' at pos 1"),
        ("a[1]b", "expected '.' character at pos 4"),
        ("a..b", "unexpected character at pos 2"),
        (".a", "unexpected character at pos 0"),
        ("a.", "unexpected character at pos 1"),
        ("a[x]", "expected a numeric index, found 'x'"),
    ],
)
def test_key_errors_use_falcos_words(key, detail):
    with pytest.raises(ConfigError) as err:
        parse_key(key)
    assert str(err.value) == f'Config error at key "{key}": Parsing error: {detail}'


def test_option_without_equal_sign():
    with pytest.raises(ConfigError) as err:
        Override.parse("json_output")
    assert str(err.value) == (
        'Error parsing config option "json_output". Must be of the form key=val or '
        "key.subkey=val"
    )


def apply(tree, *options):
    for o in options:
        Override.parse(o).apply(tree)
    return normalize(tree)


def test_set_nested_values_create_maps_and_lists():
    tree = apply({}, "a.b.c=1", "plugins[0].name=k8saudit", "plugins[0].init_config.x=true")
    assert tree == {"a": {"b": {"c": 1}}, "plugins": [{"name": "k8saudit",
                                                       "init_config": {"x": True}}]}


def test_append_and_objects():
    tree = {"rules_files": ["/a.yaml"]}
    apply(
        tree,
        "rules_files[]=/b.yaml",
        'append_output[]={"match": {"source": "syscall"}, "extra_output": "on CPU %evt.cpu"}',
        "rules[]={disable: {tag: maturity_incubating}}",
    )
    assert tree["rules_files"] == ["/a.yaml", "/b.yaml"]
    assert tree["append_output"] == [
        {"match": {"source": "syscall"}, "extra_output": "on CPU %evt.cpu"}
    ]
    assert tree["rules"] == [{"disable": {"tag": "maturity_incubating"}}]


def test_a_bracketed_value_is_not_a_list_and_later_options_win():
    tree = apply({}, "x=[a,b]", "y=1", "y=2", "s=1h")
    assert tree == {"x": "[a,b]", "y": 2, "s": "1h"}


def test_value_split_at_first_equal_sign():
    tree = apply({}, "program_output.program=jq a=b")
    assert tree["program_output"]["program"] == "jq a=b"


def test_index_grows_sequence_like_yaml_cpp():
    tree = apply({"l": ["a"]}, "l[2]=c")
    assert tree["l"] == ["a", None, "c"]


def test_bad_object_value_names_the_key():
    with pytest.raises(ConfigError, match='Config error at key "a"'):
        Override.parse("a={x: [}")


def test_indexing_a_map_is_an_error():
    with pytest.raises(ConfigError, match='Config error at key "a\\[0\\]"'):
        Override.parse("a[0]=1").apply({"a": {"b": 1}})


@pytest.mark.parametrize(
    ("text", "value"),
    [("5000", 5000), ("-3", -3), ("0x10", 16), ("1.5", 1.5), ("true", True), ("False", False),
     ("1h", "1h"), ("", ""), ("yes", "yes"), ("010", 10), ("1e3", 1000.0)],
)
def test_scalars_are_typed_as_falco_reads_them(text, value):
    assert typed_scalar(text) == value and type(typed_scalar(text)) is type(value)
