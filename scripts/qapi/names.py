"""How schema names become C names."""

import re

# Identifiers that cannot be used as C member names as they are: C11
# keywords, GNU extensions, and names the C library or <stdbool.h>
# defines as object-like macros (which would expand inside a struct).
C_RESERVED = frozenset('''
    auto break case char const continue default do double else enum extern
    float for goto if inline int long register restrict return short signed
    sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
    _Static_assert _Thread_local
    asm typeof
    bool true false
    unix linux i386
    errno stdin stdout stderr NULL
'''.split())

TYPE_NAME_RE = re.compile(r'^[A-Z][A-Za-z0-9]*$')
MEMBER_NAME_RE = re.compile(r'^[a-z][a-z0-9_-]*$')
ENUM_VALUE_RE = re.compile(r'^[a-z0-9][a-z0-9._-]*$')
ENUM_PREFIX_RE = re.compile(r'^[A-Z][A-Z0-9_]*$')


def c_name(name, protect=True):
    """Map a schema name to a C identifier.

    Every character that cannot appear in a C identifier becomes '_'.
    With @protect, a result that is reserved in C or starts with a digit
    gets a 'q_' prefix (the prefix schema names may not use themselves).
    """
    result = re.sub(r'[^A-Za-z0-9_]', '_', name)
    if protect and (result in C_RESERVED or result[:1].isdigit()):
        result = 'q_' + result
    return result


def camel_to_upper(name):
    """CamelCase type name -> UPPER_SNAKE enum constant prefix.

    A word starts at an upper-case letter that is followed by a
    lower-case one ('QCrypto' -> 'Q_CRYPTO', 'IVGen' -> 'IV_GEN') or
    that follows a digit ('Qcow2Compression' -> 'QCOW2_COMPRESSION').
    An upper-case run that ends a word stays glued to it, as QEMU's
    generator does ('InfoLUKS' -> 'INFOLUKS'), so that the constants
    carry the same names as QEMU's.
    """
    base = c_name(name, False)
    if base.isupper():
        return base
    out = []
    for i, ch in enumerate(base):
        if ch.isupper() and i > 0 and base[i - 1] != '_':
            nxt = base[i + 1] if i + 1 < len(base) else ''
            if nxt.islower() or base[i - 1].isdigit():
                out.append('_')
        out.append(ch)
    return ''.join(out).lstrip('_').upper()


def enum_const(prefix, value):
    """The C constant of enum value @value under @prefix."""
    return '%s_%s' % (prefix, c_name(value, False).upper())


def guard_name(fname):
    """Include guard for generated header @fname."""
    return c_name(fname, False).upper()
