"""The condition grammar: canonical AST strings and upstream's syntax errors (§2)."""

from __future__ import annotations

import pytest
from pyfalco.rules.ast import as_string
from pyfalco.rules.parser import ParseError, parse


@pytest.mark.parametrize(("text", "expected"), [
    ("evt.type=open and proc.name=cat", "(evt.type = open and proc.name = cat)"),
    ("a or b and c", "(a or (b and c))"),
    ("not a", "not a"),
    ("not not a", "a"),
    ("not a.b = 1 and c", "(not a.b = 1 and c)"),
    ("(a)and(b)", "(a and b)"),
    ("a and(b)", "(a and b)"),
    ("x.y inz", "x.y in z"),
    ("proc.aname[2] in (a, \"b c\")", 'proc.aname[2] in (a, "b c")'),
    ("evt.arg[0] contains /bin", "evt.arg[0] contains /bin"),
    ("fd.num>=0", "fd.num >= 0"),
    ("x.y in(a)", "x.y in (a)"),
    ("x.y startswith oneof", "x.y startswith oneof"),
    ("x.y startswith anyof ab", "x.y startswith anyof ab"),
    ("x.y in ()", "x.y in ()"),
    ("x.y startswith oneof (a, b)", "x.y startswith oneof (a, b)"),
    ("x.y = oneof and z", "(x.y = oneof and z)"),
    ("a.b = not", "a.b = not"),
    ("test.op existsand macro", "(test.op exists and macro)"),
    ("tolower(proc.name) = val(proc.pname)", "tolower(proc.name) = val(proc.pname)"),
    ("b64(toupper(x.y)) = abc", "b64(toupper(x.y)) = abc"),
    ("proc.pname in (runc:[0:PARENT], runc:[1:CHILD])",
     "proc.pname in (runc:[0:PARENT], runc:[1:CHILD])"),
    ("fd.name = '/tmp/a b'", 'fd.name = "/tmp/a b"'),
    ("x.y = 'mixed \"'", 'x.y = "mixed \\""'),
    ("x.y = \"a\\tb\"", 'x.y = "a\\tb"'),
    ("x.y = \"\\x41\"", "x.y = A"),
    ("notz", "notz"),
    ("a.b.c[key] exists", "a.b.c[key] exists"),
    ("a.b['quoted key'] exists", 'a.b["quoted key"] exists'),
])
def test_canonical_string(text: str, expected: str) -> None:
    assert as_string(parse(text)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "filter input string is empty"),
    ("a andb", "expected blank or '(' after 'and'"),
    ("a orb", "expected blank or '(' after 'or'"),
    ("evt.type=open and proc.name=cat foo",
     "unexpected token after 'cat', expecting 'or', 'and'"),
    ("a.b = b = 1", "unexpected token after 'b', expecting 'or', 'and'"),
    ("a not b", "unexpected token after 'a', expecting 'or', 'and'"),
    ("macro > 12", "unexpected token after 'macro', expecting 'or', 'and'"),
    ("x.y[]", "expected a valid field argument: a quoted string or a bare string"),
    ("x.y[a", "expected a ']' token"),
    ("(a", "expected a ')' token"),
    ("#a and b", "expected a '(' token, a field check, or an identifier"),
    ("a.b > abc", "expected a number value or a field with a valid transformer: 'val', "
     "'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'"),
    ("proc.name containsfoo", "expected a valid check operator: one of 'exists', '<=', '<', "
     "'>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', "
     "'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'"),
    ("x.y in (a,)", "expected a string value"),
    ("x.y in (a,,b)", "expected a string value"),
    ("x.y = oneof(a)", "unexpected token after 'oneof', expecting 'or', 'and'"),
    ("x.y startswith oneof 'a'", "expected a list or an identifier"),
    ("x.y = \"\\q\"", "unsupported string escape sequence: \\q"),
    ("x.y = \"\\x4\"", "truncated hex char escape sequence"),
    ("x.y = 'a\\\"b'", "invalid \\\" escape in '-quoted string"),
    ("val(x.y) = 1", "unexpected token after 'val', expecting 'or', 'and'"),
    ("x.y = val(tolower(x.z))", "expected a field within 'val' transformer"),
])
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(text)
    assert err.value.message == message


def test_depth_limit() -> None:
    deep = "(" * 400 + "a" + ")" * 400
    with pytest.raises(ParseError, match="exceeded max depth limit of 1000"):
        parse(deep)
    assert as_string(parse("(" * 100 + "a" + ")" * 100)) == "a"
