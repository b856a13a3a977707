"""Schema text -> top-level expressions and doc comment blocks.

The schema language is a sequence of JSON-like objects: strings are
single-quoted, '#' starts a comment that runs to the end of the line,
and the only other values are objects, arrays, true and false.  A
comment block that opens with a line '##' and closes with a line '##'
is a documentation comment (see doc.py).

Includes are expanded in place, each file at most once; a relative
include path is resolved against the directory of the file that
includes it.
"""

import os

from .doc import parse_doc
from .source import QAPIError, SourceInfo


class LocDict(dict):
    """A parsed object that remembers the line of each key."""

    def __init__(self, info):
        super().__init__()
        self.info = info
        self.key_info = {}
        # Keys written more than once, as (key, info of the repetition).
        # The schema checker reports them, naming what the key is (a
        # member, a branch, ...); see check_duplicates().
        self.duplicates = []

    def check_duplicates(self, what):
        """Raise for the first repeated key, described by @what % key."""
        if self.duplicates:
            key, info = self.duplicates[0]
            self.duplicates = []
            raise QAPIError(info, what % key)


class LocList(list):
    """A parsed array that remembers where it started."""

    def __init__(self, info):
        super().__init__()
        self.info = info
        self.item_info = []


class Expression:
    """One top-level schema expression with its doc comment (or None)."""

    def __init__(self, expr, info, doc):
        self.expr = expr
        self.info = info
        self.doc = doc


class FreeDoc:
    """A doc comment that documents no definition (section text)."""

    def __init__(self, doc):
        self.doc = doc
        self.info = doc.info


_PUNCT = '{}[]:,'


class _FileParser:
    def __init__(self, fname, incl_info, files):
        self.fname = fname
        self.incl_info = incl_info
        self.files = files
        try:
            with open(fname, encoding='utf-8') as f:
                self.src = f.read()
        except (OSError, UnicodeDecodeError) as err:
            what = err.strerror if isinstance(err, OSError) else str(err)
            if incl_info is None:
                raise QAPIError(None, "can't read schema file '%s': %s"
                                % (fname, what))
            raise QAPIError(incl_info, "can't read include file '%s': %s"
                            % (fname, what))
        if not self.src.endswith('\n'):
            self.src += '\n'
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.items = []
        # token state
        self.tok = None
        self.val = None
        self.tok_line = 1

    def info(self, line=None):
        return SourceInfo(self.fname, self.line if line is None else line,
                          self.incl_info)

    def error(self, msg, line=None):
        raise QAPIError(self.info(line), msg)

    # ---- lexer ----

    def next_token(self, top_level=False):
        """Scan the next token into self.tok / self.val.

        self.tok is one of the punctuation characters, "'" for a
        string, 't'/'f' for true/false, '#' for a doc comment (only
        when @top_level) or None at end of input.
        """
        src = self.src
        while True:
            if self.pos >= len(src):
                self.tok = None
                self.tok_line = self.line
                return
            ch = src[self.pos]
            self.tok_line = self.line
            if ch == '\n':
                self.pos += 1
                self.line += 1
                self.line_start = self.pos
            elif ch in ' \t\r':
                self.pos += 1
            elif ch == '#':
                end = src.index('\n', self.pos)
                text = src[self.pos:end].rstrip()
                if (top_level and text == '##'
                        and not src[self.line_start:self.pos].strip()):
                    self.tok = '#'
                    self.val = self.scan_doc_block()
                    return
                self.pos = end
            elif ch in _PUNCT:
                self.pos += 1
                self.tok = ch
                return
            elif ch == "'":
                self.tok = "'"
                self.val = self.scan_string()
                return
            elif src.startswith('true', self.pos):
                self.pos += 4
                self.tok = 't'
                self.val = True
                return
            elif src.startswith('false', self.pos):
                self.pos += 5
                self.tok = 'f'
                self.val = False
                return
            else:
                end = self.pos
                while end < len(src) and not src[end].isspace() \
                        and src[end] not in _PUNCT + "'#":
                    end += 1
                self.error("unexpected text '%s'"
                           % src[self.pos:max(end, self.pos + 1)])

    def scan_string(self):
        src = self.src
        self.pos += 1
        chars = []
        while True:
            ch = src[self.pos]
            if ch == '\n':
                self.error('missing terminating "\'" in string')
            self.pos += 1
            if ch == "'":
                return ''.join(chars)
            if ch == '\\':
                esc = src[self.pos]
                if esc not in '\\\'"':
                    self.error("unknown escape '\\%s' in string" % esc)
                self.pos += 1
                ch = esc
            elif not ' ' <= ch <= '~':
                self.error('non-printable or non-ASCII character %r in '
                           'string' % ch)
            chars.append(ch)

    def scan_doc_block(self):
        """Read a '##' ... '##' block; return (first line, [(line, text)])."""
        src = self.src
        start_line = self.line
        self.pos = src.index('\n', self.pos) + 1
        self.line += 1
        self.line_start = self.pos
        lines = []
        while True:
            if self.pos >= len(src):
                self.error("documentation comment starting here does not "
                           "end with '##'", start_line)
            end = src.index('\n', self.pos)
            raw = src[self.pos:end].rstrip()
            stripped = raw.lstrip()
            lineno = self.line
            if not stripped.startswith('#'):
                self.error("documentation comment starting at line %d "
                           "does not end with '##'" % start_line)
            self.pos = end + 1
            self.line += 1
            self.line_start = self.pos
            if stripped == '##':
                return start_line, lines
            if stripped.startswith('##'):
                self.error("unexpected '##' inside documentation comment",
                           lineno)
            text = stripped[1:]
            if text and not text.startswith(' '):
                self.error("missing space after '#' in documentation "
                           "comment", lineno)
            lines.append((lineno, text[1:]))

    # ---- parser ----

    def expect(self, toks, what):
        if self.tok not in toks:
            found = {None: 'end of file', "'": 'string', 't': "'true'",
                     'f': "'false'", '#': 'documentation comment'}.get(
                         self.tok, "'%s'" % self.tok)
            self.error('expected %s, found %s' % (what, found),
                       self.tok_line)

    def parse_value(self):
        self.expect("{['tf", 'a value')
        if self.tok == '{':
            return self.parse_object()
        if self.tok == '[':
            return self.parse_array()
        val = self.val
        self.next_token()
        return val

    def parse_object(self, top_level=False):
        """Parse an object; with @top_level, the token after its closing
        brace is scanned with doc comments recognised."""
        obj = LocDict(self.info(self.tok_line))
        self.next_token()
        if self.tok == '}':
            self.next_token(top_level)
            return obj
        while True:
            self.expect("'", 'a string key')
            key = self.val
            key_line = self.tok_line
            self.next_token()
            self.expect(':', "':'")
            self.next_token()
            value = self.parse_value()
            if key in obj:
                obj.duplicates.append((key, self.info(key_line)))
            else:
                obj[key] = value
                obj.key_info[key] = self.info(key_line)
            self.expect(',}', "',' or '}'")
            if self.tok == '}':
                self.next_token(top_level)
                return obj
            self.next_token()

    def parse_array(self):
        arr = LocList(self.info(self.tok_line))
        self.next_token()
        if self.tok == ']':
            self.next_token()
            return arr
        while True:
            arr.item_info.append(self.info(self.tok_line))
            arr.append(self.parse_value())
            self.expect(',]', "',' or ']'")
            if self.tok == ']':
                self.next_token()
                return arr
            self.next_token()

    def parse(self):
        pending_doc = None
        self.next_token(top_level=True)
        while self.tok is not None:
            if self.tok == '#':
                start_line, lines = self.val
                doc = parse_doc(self.info(start_line), lines)
                self.check_doc_placement(pending_doc)
                pending_doc = None
                if doc.symbol is None:
                    self.items.append(FreeDoc(doc))
                else:
                    pending_doc = doc
                self.next_token(top_level=True)
                continue
            self.expect('{', "'{' starting a top-level expression")
            info = self.info(self.tok_line)
            expr = self.parse_object(top_level=True)
            if 'include' in expr:
                self.check_doc_placement(pending_doc)
                pending_doc = None
                self.include(expr, info)
            else:
                self.items.append(Expression(expr, info, pending_doc))
                pending_doc = None
        self.check_doc_placement(pending_doc)
        return self.items

    def check_doc_placement(self, pending_doc):
        if pending_doc is not None:
            raise QAPIError(pending_doc.info,
                            "documentation comment for '%s' is not "
                            "followed by its definition"
                            % pending_doc.symbol)

    def include(self, expr, info):
        expr.check_duplicates("include expression has key '%s' twice")
        if set(expr) != {'include'}:
            extra = sorted(set(expr) - {'include'})
            raise QAPIError(info, "include expression has unknown key '%s'"
                            % extra[0])
        path = expr['include']
        if not isinstance(path, str) or not path:
            raise QAPIError(info, "value of 'include' must be a file name")
        incl = os.path.normpath(os.path.join(os.path.dirname(self.fname),
                                             path))
        key = os.path.realpath(incl)
        if key in self.files:
            return
        self.files[key] = incl
        sub = _FileParser(incl, info, self.files)
        self.items.extend(sub.parse())


def parse_schema(fname):
    """Parse @fname and its includes.

    Returns (items, files): items is the list of Expression and FreeDoc
    objects in source order; files the schema files read, main first.
    """
    files = {os.path.realpath(fname): fname}
    items = _FileParser(fname, None, files).parse()
    return items, list(files.values())
