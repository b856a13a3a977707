"""Documentation comments.

A definition's doc comment looks like this:

    ##
    # @Name:
    #
    # Free text describing the definition, any number of paragraphs.
    #
    # @member: what the member means; a description continues on
    #     following lines, indented
    #
    # @other-member: ...
    #
    # Since: 1.0
    ##

After the members may come tagged sections ('Since:', 'Note:',
'Example:', 'Returns:', ...) and untagged paragraphs.  A doc comment
whose first line is not '@Name:' documents no definition; it is free
text, and its lines starting with '=' are section headings.
"""

import re
import textwrap

from .source import QAPIError

_SYMBOL_RE = re.compile(r'^@([^\s:]+):(.*)$')
_ARG_RE = re.compile(r'^@([A-Za-z0-9_.-]+):(.*)$')
_TAG_RE = re.compile(r'^(Since|Notes?|Examples?|Returns|Errors|TODO|See also)'
                     r':(.*)$')


def _trim(lines):
    """Drop leading and trailing blank lines and common indentation."""
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return textwrap.dedent('\n'.join(lines)).split('\n') if lines else []


class DocArg:
    """The description of one member (or enum value)."""

    def __init__(self, name, info):
        self.name = name
        self.info = info
        self.lines = []

    def text(self):
        """The description as one paragraph per list element."""
        paras = []
        cur = []
        for line in self.lines + ['']:
            if line:
                cur.append(line)
            elif cur:
                paras.append(' '.join(cur))
                cur = []
        return paras


class DocSection:
    """A tagged section ('Since', 'Note', ...) or untagged paragraphs."""

    def __init__(self, tag, info):
        self.tag = tag
        self.info = info
        self.lines = []


class Doc:
    """A parsed doc comment.

    symbol: the name documented, or None for a free-form comment
    body: lines of free text before the member descriptions
    args: {name: DocArg} in the order written
    sections: DocSection list, in the order written (Since excluded)
    since: the text of the 'Since:' section, or None
    """

    def __init__(self, info, symbol):
        self.info = info
        self.symbol = symbol
        self.body = []
        self.args = {}
        self.sections = []
        self.since = None


def parse_doc(info, lines):
    """Parse the lines [(lineno, text)] of a '##' block starting at @info."""
    if not lines:
        raise QAPIError(info, 'empty documentation comment')
    first_line, first = lines[0]
    if not first.startswith('@'):
        doc = Doc(info, None)
        doc.body = _trim([text for _, text in lines])
        return doc
    m = _SYMBOL_RE.match(first)
    if not m or m.group(2).strip():
        raise QAPIError(info.at_line(first_line),
                        "the first line of a definition's documentation "
                        "must be '@Name:' alone")
    doc = Doc(info, m.group(1))
    _DocBuilder(doc, info).feed(lines[1:])
    return doc


class _DocBuilder:
    def __init__(self, doc, info):
        self.doc = doc
        self.info = info
        self.state = 'body'
        self.cur = None
        self.blank = False

    def feed(self, lines):
        for lineno, text in lines:
            self.line(self.info.at_line(lineno), text)
        self.finish()

    def line(self, info, text):
        m_arg = _ARG_RE.match(text)
        m_tag = _TAG_RE.match(text)
        if m_arg:
            self.start_arg(info, m_arg.group(1), m_arg.group(2))
        elif m_tag:
            self.start_section(info, m_tag.group(1), m_tag.group(2))
        elif not text.strip():
            self.blank = True
            if self.state != 'arg':
                self.target().append('')
            return
        elif self.state == 'arg':
            if self.blank and not text[0].isspace():
                self.start_section(info, None, text)
            else:
                if self.blank:
                    self.cur.lines.append('')
                self.cur.lines.append(text.strip())
        else:
            self.target().append(text)
        self.blank = False

    def target(self):
        return self.doc.body if self.state == 'body' else self.cur.lines

    def start_arg(self, info, name, rest):
        self.finish_current()
        if self.state == 'section':
            raise QAPIError(info, "the description of '@%s' must come "
                            "before the sections that follow the member "
                            "descriptions" % name)
        if name in self.doc.args:
            raise QAPIError(info, "'@%s' is documented twice" % name)
        self.cur = DocArg(name, info)
        self.doc.args[name] = self.cur
        if rest.strip():
            self.cur.lines.append(rest.strip())
        self.state = 'arg'

    def start_section(self, info, tag, rest):
        self.finish_current()
        if tag == 'Since' and self.doc.since is not None:
            raise QAPIError(info, "duplicate 'Since:' section")
        self.cur = DocSection(tag, info)
        self.doc.sections.append(self.cur)
        if rest.strip():
            self.cur.lines.append(rest.strip() if tag else rest)
        self.state = 'section'

    def finish_current(self):
        cur = self.cur
        if isinstance(cur, DocArg):
            while cur.lines and not cur.lines[-1]:
                cur.lines.pop()
            if not cur.lines:
                raise QAPIError(cur.info, "'@%s:' has no description"
                                % cur.name)
        elif isinstance(cur, DocSection):
            cur.lines = _trim(cur.lines)
            if cur.tag == 'Since':
                if not cur.lines:
                    raise QAPIError(cur.info, "'Since:' needs a version")
                self.doc.since = ' '.join(l.strip() for l in cur.lines)
                self.doc.sections.remove(cur)
            elif not cur.lines:
                self.doc.sections.remove(cur)
        self.cur = None

    def finish(self):
        self.finish_current()
        self.doc.body = _trim(self.doc.body)
