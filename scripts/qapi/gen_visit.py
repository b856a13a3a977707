"""Output visitors: C values -> QObject trees.

Object members are inserted in schema order (base members first, then
the members of a union's branch).  QDict prints keys in an order that
depends on insertion order within a hash bucket, so this order is what
makes our JSON match QEMU's byte for byte.
"""

from .cgen import banner, c_list_name, call, list_loop, proto
from .names import guard_name
from .schema import BuiltinType, EnumType, StructType


class VisitGenerator:
    def __init__(self, schema, prefix, schema_fname):
        self.schema = schema
        self.prefix = prefix
        self.schema_fname = schema_fname
        self.h_name = prefix + 'qapi-visit.h'
        self.uses_string = False

    def value_expr(self, t, expr, inline_str=False):
        """C expression converting @expr (of type @t) to a new QObject *."""
        if isinstance(t, BuiltinType):
            if t.out_kind == 'str':
                if inline_str:
                    return 'QOBJECT(qstring_from_str(%s ? %s : ""))' % (
                        expr, expr)
                self.uses_string = True
                return 'qapi_out_string(%s)' % expr
            fn = {'int': 'qnum_from_int', 'uint': 'qnum_from_uint',
                  'double': 'qnum_from_double',
                  'bool': 'qbool_from_bool'}[t.out_kind]
            return 'QOBJECT(%s(%s))' % (fn, expr)
        return 'qapi_out_%s(%s)' % (t.name, expr)

    # ---- header ----

    def header(self):
        s = self.schema
        guard = guard_name(self.h_name)
        out = banner('Output visitors: schema-defined C types to QObject',
                     self.schema_fname)
        out += ('\n#ifndef %s\n#define %s\n\n'
                '#include "qobject/qobject.h"\n' % (guard, guard))
        builtin_lists = [t for t in s.list_types() if t.is_builtin()]
        if builtin_lists:
            out += '#include "qobject/qlist.h"\n#include "qobject/qscalar.h"\n'
        out += '#include "%s"\n' % (self.prefix + 'qapi-types.h')
        out += ('\n/*\n'
                ' * Each qapi_out_T() returns a new reference: a QDict for '
                'a struct or\n'
                ' * union (members in schema order, optional members only '
                'when their\n'
                ' * has_ flag is set, NULL strings as ""), a QList for a '
                'list, a QString\n'
                ' * for an enum value.  A NULL object gives an empty QDict, '
                'a NULL list an\n'
                ' * empty QList.\n'
                ' */\n')
        for t in builtin_lists:
            out += self.builtin_list(t)
        out += '\n'
        for ent in s.entities:
            if isinstance(ent, EnumType):
                out += 'QObject *qapi_out_%s(%s value);\n' % (ent.name,
                                                              ent.name)
            else:
                out += 'QObject *qapi_out_%s(const %s *obj);\n' % (ent.name,
                                                                   ent.name)
            name = c_list_name(ent)
            out += 'QObject *qapi_out_%s(const %s *list);\n' % (name, name)
        out += '\n#endif /* %s */\n' % guard
        return out

    def builtin_list(self, t):
        name = c_list_name(t)
        guard = 'QAPI_BUILTIN_OUT_' + name
        return ('\n#ifndef %(guard)s\n'
                '#define %(guard)s\n'
                '\n'
                'static inline QObject *qapi_out_%(name)s(const %(name)s '
                '*list)\n'
                '{\n'
                '    QList *qlist = qlist_new();\n'
                '\n'
                '    for (; list; list = list->next) {\n'
                '%(append)s'
                '    }\n'
                '    return QOBJECT(qlist);\n'
                '}\n'
                '\n'
                '#endif /* %(guard)s */\n'
                % {'guard': guard, 'name': name,
                   'append': call(8, '', 'qlist_append_obj', [
                       'qlist', self.value_expr(t, 'list->value', True)])})

    # ---- code ----

    def code(self):
        s = self.schema
        body = ''
        for ent in s.entities:
            if isinstance(ent, StructType):
                body += self.members_fn(ent)
        for ent in s.entities:
            if isinstance(ent, EnumType):
                body += self.enum_fn(ent)
            elif isinstance(ent, StructType):
                body += self.struct_fn(ent)
            else:
                body += self.union_fn(ent)
            body += self.list_fn(ent)
        out = banner('Output visitors: schema-defined C types to QObject',
                     self.schema_fname)
        out += ('\n#include "%s"\n'
                '#include "qobject/qdict.h"\n'
                '#include "qobject/qlist.h"\n'
                '#include "qobject/qscalar.h"\n' % self.h_name)
        if self.uses_string:
            out += ('\nstatic QObject *qapi_out_string(const char *str)\n'
                    '{\n'
                    '    return QOBJECT(qstring_from_str(str ? str : ""));\n'
                    '}\n')
        return out + body

    def put_members(self, members, indent):
        out = ''
        for m in members:
            pad = indent
            if m.optional:
                out += ' ' * indent + 'if (obj->has_%s) {\n' % m.c_name
                pad += 4
            out += call(pad, '', 'qdict_put_obj', [
                'dict', '"%s"' % m.name,
                self.value_expr(m.type, 'obj->' + m.c_name)])
            if m.optional:
                out += ' ' * indent + '}\n'
        return out

    def members_fn(self, ent):
        body = self.put_members(ent.members, 4)
        if not body:
            body = '    (void)dict;\n    (void)obj;\n'
        return ('\n'
                + proto('static void', 'qapi_out_members_' + ent.name,
                        ['QDict *dict', 'const %s *obj' % ent.name])
                + '{\n%s}\n' % body)

    def enum_fn(self, ent):
        return ('\nQObject *qapi_out_%(n)s(%(n)s value)\n'
                '{\n'
                '    const char *str = %(n)s_str(value);\n'
                '\n'
                '    return QOBJECT(qstring_from_str(str ? str : ""));\n'
                '}\n' % {'n': ent.name})

    def struct_fn(self, ent):
        return ('\nQObject *qapi_out_%(n)s(const %(n)s *obj)\n'
                '{\n'
                '    QDict *dict = qdict_new();\n'
                '\n'
                '    if (obj) {\n'
                '        qapi_out_members_%(n)s(dict, obj);\n'
                '    }\n'
                '    return QOBJECT(dict);\n'
                '}\n' % {'n': ent.name})

    def union_fn(self, ent):
        out = ('\nQObject *qapi_out_%(n)s(const %(n)s *obj)\n'
               '{\n'
               '    QDict *dict = qdict_new();\n'
               '\n'
               '    if (!obj) {\n'
               '        return QOBJECT(dict);\n'
               '    }\n' % {'n': ent.name})
        out += self.put_members(ent.members, 4)
        if ent.branches:
            out += '    switch (obj->%s) {\n' % ent.discriminator.c_name
            for br in ent.branches:
                out += '    case %s:\n' % br.enum_value.c_const
                out += call(8, '', 'qapi_out_members_' + br.type.name,
                            ['dict', '&obj->u.' + br.c_name])
                out += '        break;\n'
            out += ('    default:\n'
                    '        break;\n'
                    '    }\n')
        out += '    return QOBJECT(dict);\n}\n'
        return out

    def list_fn(self, ent):
        name = c_list_name(ent)
        loop, elem = list_loop(ent)
        return ('\nQObject *qapi_out_%(name)s(const %(name)s *list)\n'
                '{\n'
                '    QList *qlist = qlist_new();\n'
                '\n'
                '    %(loop)s\n'
                '%(append)s'
                '    }\n'
                '    return QOBJECT(qlist);\n'
                '}\n'
                % {'name': name, 'loop': loop,
                   'append': call(8, '', 'qlist_append_obj', [
                       'qlist', self.value_expr(ent, elem)])})


def generate(schema, prefix, schema_fname):
    gen = VisitGenerator(schema, prefix, schema_fname)
    return {prefix + 'qapi-visit.h': gen.header(),
            prefix + 'qapi-visit.c': gen.code()}
