"""Source locations and the single error type of the compiler."""


class SourceInfo:
    """A place in a schema file: file name, line, and how we got there.

    @parent is the SourceInfo of the include expression that pulled this
    file in (None for the main schema), so an error deep in an included
    file can say which include chain led to it.
    """

    def __init__(self, fname, line, parent=None):
        self.fname = fname
        self.line = line
        self.parent = parent

    def at_line(self, line):
        return SourceInfo(self.fname, line, self.parent)

    def include_chain(self):
        lines = []
        info = self.parent
        while info:
            lines.append('In file included from %s:%d:'
                         % (info.fname, info.line))
            info = info.parent
        return lines

    def __str__(self):
        return '%s:%d' % (self.fname, self.line)


class QAPIError(Exception):
    """A problem with the schema, reported as 'file:line: message'."""

    def __init__(self, info, msg):
        super().__init__(msg)
        self.info = info
        self.msg = msg

    def __str__(self):
        if self.info is None:
            return self.msg
        return '\n'.join(self.info.include_chain()
                         + ['%s: %s' % (self.info, self.msg)])
