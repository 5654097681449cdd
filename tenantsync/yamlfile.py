"""YAML loading that remembers where each key sits, so config errors can name the line.

A configuration file is read defensively, before anything else happens: its size is limited
(checked before reading), it must be UTF-8, nesting depth and aliases are bounded (an alias
"bomb" expands exponentially), duplicate keys are refused (YAML 1.2 requires unique keys;
PyYAML silently keeps the last), and every refusal is a ConfigError naming the file, the line
and the key. The document is composed from PyYAML's event stream by a loop (not PyYAML's
recursive composer), so a deeply nested file is refused instead of raising RecursionError.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from .errors import ConfigError

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

MAX_FILE_BYTES = 1_000_000        # a real configuration is a few kB
MAX_DEPTH = 32                    # mappings/lists inside each other
MAX_ALIASES = 20                  # enough to share an auth block or two
MAX_VALUES = 200_000              # values of the document with every alias expanded
FILE_KEY = "(file)"               # the key named by errors about the whole file
# YAML 1.1 printable characters (PyYAML's Reader refuses the others, without a line).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is None:
                raise ConfigError(f"environment variable {name} is not set", key=name)
            return default
        return value

    return _ENV.sub(repl, text)


def one_line(text: str, limit: int = 300) -> str:
    """A message fit for one line of stderr: control characters escaped, long text cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[:limit - 1] + "…"


def short(value: Any, limit: int = 60) -> str:
    """repr of a value for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 4] + "…" + text[-3:]


def file_error(file: str, message: str, line: int = 1, key: str = FILE_KEY) -> ConfigError:
    return ConfigError(message, file=file, line=line, key=key)


def read_text(path: str | Path) -> str:
    """The file's text; refused before reading if too big, not a file, or not UTF-8."""
    p, file = Path(path), str(path)
    try:
        info = p.stat()
    except OSError as exc:
        raise file_error(file, f"cannot read the file ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise file_error(file, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise file_error(file, f"the file is {info.st_size / 1e6:.1f} MB; a configuration may be at most "
                               f"{MAX_FILE_BYTES / 1e6:.0f} MB")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise file_error(file, f"cannot read the file ({exc.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:             # grew since stat
        raise file_error(file, f"the file is larger than {MAX_FILE_BYTES / 1e6:.0f} MB")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]                        # a UTF-8 byte order mark (Windows editors)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        key = _key_of_line(raw.decode("utf-8", "replace"), line)
        raise file_error(file, f"not valid UTF-8 (byte 0x{raw[exc.start]:02X} in column {column}); "
                               "save the file as UTF-8", line, key) from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        key = _key_of_line(_NOT_PRINTABLE.sub("?", text), line)
        raise file_error(file, f"character U+{ord(bad.group()):04X} is not allowed in YAML", line, key)
    return text


def load_yaml(path: str | Path) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file; returns the data and a map from key path to 1-based line number."""
    file = str(path)
    text = read_text(path)
    composer = _Composer(file)
    node = composer.compose(text)
    lines = composer.lines
    if node is None:
        return None, lines
    try:
        data = _Constructor().construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        loc = composer.locs.get(id(getattr(exc, "node", None)))
        raise file_error(file, one_line(f"not valid YAML: {exc.problem}"), line,
                         dotted(loc) if loc else _key_at(lines, line)) from None
    return data, lines


class _Constructor(SafeConstructor):
    """SafeConstructor whose value errors (``2024-13-45``, an over-long ``!!int``) name a line,
    and whose errors carry the node they are about (``exc.node``) for the key."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ConstructorError as exc:
            if not hasattr(exc, "node"):
                exc.node = node                     # the innermost node
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            what = short(node.value) if isinstance(node, ScalarNode) else "the value"
            error = ConstructorError(None, None, f"cannot read {what} as {node.tag.rsplit(':', 1)[-1]} "
                                                 f"({one_line(str(exc), 80)})", node.start_mark)
            error.node = node
            raise error from None


class _Frame:
    __slots__ = ("node", "loc", "key", "seen", "size", "anchor", "index")

    def __init__(self, node: Node, loc: Loc, anchor: str | None) -> None:
        self.node, self.loc, self.anchor = node, loc, anchor
        self.key: ScalarNode | None = None     # a mapping's key waiting for its value
        self.seen: dict[str, int] = {}         # a mapping's keys -> line
        self.size, self.index = 1, 0


class _Composer:
    """PyYAML's composition, iteratively, with the limits and the line map."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Loc, int] = {}
        self.locs: dict[int, Loc] = {}             # id(node) -> where it is (first place)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.aliases = self.values = self.documents = 0
        self.root: Node | None = None
        self.resolver = Resolver()

    def fail(self, message: str, line: int, loc: Loc | None = None) -> ConfigError:
        where = self.here() if loc is None else loc
        return file_error(self.file, one_line(message), line, dotted(where) or FILE_KEY)

    def here(self) -> Loc:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.node, MappingNode):
            return top.loc + (top.key.value,) if top.key is not None else top.loc
        return top.loc + (top.index,)

    def compose(self, text: str) -> Node | None:
        try:
            for event in yaml.parse(text, Loader=_PARSER):
                self.event(event)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise self.fail(f"not valid YAML: {exc.problem or exc.context}",
                            mark.line + 1 if mark else 1) from None
        except yaml.YAMLError as exc:
            raise self.fail(f"not valid YAML: {exc}", 1) from None
        return self.root

    def event(self, ev: Any) -> None:
        line = ev.start_mark.line + 1 if ev.start_mark is not None else 1
        if isinstance(ev, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail("more than one YAML document (---) in the file", line, ())
        elif isinstance(ev, ScalarEvent):
            tag = ev.tag if ev.tag not in (None, "!") else self.resolver.resolve(ScalarNode, ev.value, ev.implicit)
            node = ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
            self.count(1, line)
            self.attach(node, 1, line, ev.anchor)
        elif isinstance(ev, (MappingStartEvent, SequenceStartEvent)):
            kind = MappingNode if isinstance(ev, MappingStartEvent) else SequenceNode
            loc = self.slot(kind, line)
            if len(self.stack) >= MAX_DEPTH:
                raise self.fail(f"nested more than {MAX_DEPTH} levels deep", line)
            tag = ev.tag if ev.tag not in (None, "!") else self.resolver.resolve(kind, None, ev.implicit)
            node = kind(tag, [], ev.start_mark, None, flow_style=ev.flow_style)
            self.count(1, line)
            self.lines.setdefault(loc, line)
            self.stack.append(_Frame(node, loc, ev.anchor))
        elif isinstance(ev, (MappingEndEvent, SequenceEndEvent)):
            frame = self.stack.pop()
            frame.node.end_mark = ev.end_mark
            self.attach(frame.node, frame.size, frame.node.start_mark.line + 1, frame.anchor, placed=True)
        elif isinstance(ev, AliasEvent):
            if ev.anchor not in self.anchors:
                raise self.fail(f"alias *{ev.anchor} names no anchor (&{ev.anchor}) defined before it", line)
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.fail(f"more than {MAX_ALIASES} aliases (*name) in the file", line)
            node, size = self.anchors[ev.anchor]
            self.count(size, line)
            self.attach(node, size, line, None)

    def count(self, size: int, line: int) -> None:
        self.values += size
        if self.values > MAX_VALUES:
            raise self.fail(f"the document expands to more than {MAX_VALUES:,} values "
                            "(aliases included); a configuration needs far fewer", line)

    def slot(self, kind: type, line: int) -> Loc:
        """Where a new collection goes; a collection is never a key."""
        if self.stack and isinstance(self.stack[-1].node, MappingNode) and self.stack[-1].key is None:
            raise self.fail(f"a key must be plain text, not a {'mapping' if kind is MappingNode else 'list'}",
                            line)
        return self.here()

    def attach(self, node: Node, size: int, line: int, anchor: str | None, placed: bool = False) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, size)
        if not self.stack:
            self.root = node
            self.lines.setdefault((), line)
            return
        parent = self.stack[-1]
        parent.size += size
        self.locs.setdefault(id(node), self.here())
        if isinstance(parent.node, SequenceNode):
            if not placed:
                self.lines.setdefault(parent.loc + (parent.index,), line)
            parent.node.value.append(node)
            parent.index += 1
            return
        if parent.key is None:                      # node is a key
            if not isinstance(node, ScalarNode):
                raise self.fail("a key must be plain text", line)
            loc = parent.loc + (node.value,)
            if node.value in parent.seen:
                raise self.fail(f"duplicate key {short(node.value)} (lines {parent.seen[node.value]} and "
                                f"{line}); YAML keys must be unique", line, loc)
            parent.seen[node.value] = line
            self.lines[loc] = line
            parent.key = node
            return
        if not placed:
            self.lines.setdefault(parent.loc + (parent.key.value,), line)
        parent.node.value.append((parent.key, node))
        parent.key = None


def _key_of_line(text: str, line: int) -> str:
    """Best effort: the key at ``line`` of a text that may not parse to the end."""
    composer = _Composer("")
    try:
        composer.compose(text)
    except ConfigError:
        pass
    return dotted(_key_at_loc(composer.lines, line)) or FILE_KEY


def _key_at_loc(lines: dict[Loc, int], line: int) -> Loc:
    best: Loc = ()
    best_line = 0
    for loc, at in lines.items():
        if at <= line and (at > best_line or (at == best_line and len(loc) > len(best))):
            best, best_line = loc, at
    return best


def _key_at(lines: dict[Loc, int], line: int) -> str:
    return dotted(_key_at_loc(lines, line)) or FILE_KEY


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@-]{1,64}")


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if _PLAIN_KEY.fullmatch(str(part)) else short(str(part), 40)
        out += f".{text}" if out else text
    return out


def expand_env_at(value: Any, loc: Loc, file: str, lines: dict[Loc, int]) -> Any:
    """expand_env for one config value; an error names the file, line and key."""
    if not isinstance(value, str):
        return value
    try:
        return expand_env(value)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=file, line=line_of(lines, loc), key=dotted(loc)) from None


def expand_connection_urls(data: dict[str, Any], file: str, lines: dict[Loc, int]) -> None:
    """Name each connection after its key and expand ${VAR:-default} in its graph_url."""
    conns = data.get("connections")
    for name, conn in (conns.items() if isinstance(conns, dict) else ()):
        if isinstance(conn, dict):
            conn.setdefault("name", name)
            if "graph_url" in conn:
                conn["graph_url"] = expand_env_at(conn["graph_url"], ("connections", name, "graph_url"), file, lines)
