"""C types: enums with their string tables, structs, unions, lists,
and deep-free functions."""

from .cgen import banner, c_list_name, decl, proto
from .names import guard_name
from .schema import (ArrayType, BuiltinType, EnumType, StructType,
                     UnionType)


def free_stmt(t, expr, indent):
    """C statement freeing a value of type @t held in @expr, or None."""
    pad = ' ' * indent
    if isinstance(t, BuiltinType):
        return pad + 'g_free(%s);\n' % expr if t.out_kind == 'str' else None
    if isinstance(t, EnumType):
        return None
    if isinstance(t, ArrayType):
        return pad + 'qapi_free_%s(%s);\n' % (t.name, expr)
    return pad + 'qapi_free_%s(%s);\n' % (t.name, expr)


# Building lists: every generated list type has 'next' and 'value',
# except those stored as arrays (see array_list_struct()).
LIST_MACROS = r'''
#ifndef QAPI_LIST_PREPEND
/* Put @element in front of @list, a pointer to any generated list type. */
#define QAPI_LIST_PREPEND(list, element) do { \
        typeof(list) qapi_list_new_ = g_new0(typeof(*(list)), 1); \
        qapi_list_new_->value = (element); \
        qapi_list_new_->next = (list); \
        (list) = qapi_list_new_; \
    } while (0)
#endif

#ifndef QAPI_LIST_APPEND
/*
 * Append @element at @tail, which points to the NULL 'next' (or list
 * head) ending a list, and advance @tail to the new end:
 *     FooList *list = NULL, **tail = &list;
 *     QAPI_LIST_APPEND(tail, foo);
 */
#define QAPI_LIST_APPEND(tail, element) do { \
        *(tail) = g_new0(typeof(**(tail)), 1); \
        (*(tail))->value = (element); \
        (tail) = &(*(tail))->next; \
    } while (0)
#endif
'''


def member_lines(members, indent=4):
    pad = ' ' * indent
    out = ''
    for m in members:
        if m.optional:
            out += pad + 'bool has_%s;\n' % m.c_name
        out += pad + decl(m.type.c_type(), m.c_name) + ';\n'
    return out


class TypesGenerator:
    def __init__(self, schema, prefix, schema_fname):
        self.schema = schema
        self.prefix = prefix
        self.schema_fname = schema_fname
        self.h_name = prefix + 'qapi-types.h'

    # ---- header ----

    def header(self):
        s = self.schema
        guard = guard_name(self.h_name)
        out = banner('Schema-defined C types', self.schema_fname)
        out += '\n#ifndef %s\n#define %s\n\n#include "qemu/osdep.h"\n' % (
            guard, guard)
        out += LIST_MACROS
        builtin_lists = [t for t in s.list_types() if t.is_builtin()]
        if builtin_lists:
            out += ('\n/*\n'
                    ' * Lists of built-in types.  Every generated header '
                    'may need them, so\n'
                    ' * each is guarded and its functions are static '
                    'inline.\n'
                    ' */\n')
            for t in builtin_lists:
                out += self.builtin_list(t)
        for ent in s.entities:
            if isinstance(ent, EnumType):
                out += self.enum_decl(ent)
        out += '\n'
        for ent in s.entities:
            if not isinstance(ent, EnumType):
                out += 'typedef struct %s %s;\n' % (ent.name, ent.name)
        for ent in s.entities:
            out += 'typedef struct %s %s;\n' % ((c_list_name(ent),) * 2)
        for ent in s.entities:
            out += self.list_struct(ent)
        emitted = set()
        for ent in s.entities:
            if isinstance(ent, UnionType):
                for br in ent.branches:
                    if br.type.name not in emitted:
                        emitted.add(br.type.name)
                        out += self.struct_def(br.type)
            if isinstance(ent, (StructType, UnionType)) \
                    and ent.name not in emitted:
                emitted.add(ent.name)
                out += self.struct_def(ent)
        out += '\n'
        for ent in s.entities:
            names = [c_list_name(ent)]
            if not isinstance(ent, EnumType):
                names.insert(0, ent.name)
            for name in names:
                out += 'void qapi_free_%s(%s *obj);\n' % (name, name)
                out += ('G_DEFINE_AUTOPTR_CLEANUP_FUNC(%s, qapi_free_%s)\n'
                        % (name, name))
            if ent.array_list:
                out += self.append_proto(ent, ';')
        out += '\n#endif /* %s */\n' % guard
        return out

    def builtin_list(self, t):
        name = c_list_name(t)
        guard = 'QAPI_BUILTIN_LIST_' + name
        free = free_stmt(t, 'obj->value', 8) or ''
        return ('\n#ifndef %(guard)s\n'
                '#define %(guard)s\n'
                '\n'
                'typedef struct %(name)s %(name)s;\n'
                '\n'
                'struct %(name)s {\n'
                '    %(name)s *next;\n'
                '    %(value)s;\n'
                '};\n'
                '\n'
                'static inline void qapi_free_%(name)s(%(name)s *obj)\n'
                '{\n'
                '    while (obj) {\n'
                '        %(name)s *next = obj->next;\n'
                '\n'
                '%(free)s'
                '        g_free(obj);\n'
                '        obj = next;\n'
                '    }\n'
                '}\n'
                '\n'
                'G_DEFINE_AUTOPTR_CLEANUP_FUNC(%(name)s, qapi_free_%(name)s)\n'
                '\n'
                '#endif /* %(guard)s */\n'
                % {'guard': guard, 'name': name, 'free': free,
                   'value': decl(t.c_type(), 'value')})

    def enum_decl(self, ent):
        out = '\ntypedef enum %s {\n' % ent.name
        for v in ent.values:
            out += '    %s,\n' % v.c_const
        out += '    %s,\n} %s;\n' % (ent.max_const, ent.name)
        out += ('\n/* The schema name of @value, or NULL if @value is out of '
                'range. */\n'
                'const char *%s_str(%s value);\n'
                '/* Set *@out to the value named @s; false if there is '
                'none. */\n'
                % (ent.name, ent.name))
        out += proto('bool', ent.name + '_parse',
                     ['const char *s', '%s *out' % ent.name], ';')
        return out

    def list_struct(self, ent):
        name = c_list_name(ent)
        if ent.array_list:
            return self.array_list_struct(ent)
        return ('\nstruct %s {\n'
                '    %s *next;\n'
                '    %s;\n'
                '};\n' % (name, name, decl(ent.c_type(), 'value')))

    def array_list_struct(self, ent):
        """A list whose elements own nothing (pragma 'array-lists') is
        one array of values: no allocation per element, and a quarter
        of a linked list's memory for the map's {offset, size} pairs.
        NULL is still the empty list."""
        return ('\n/* A list of %(t)s, stored as an array: items[0] to '
                'items[len - 1]. */\n'
                'struct %(n)s {\n'
                '    size_t len;\n'
                '    size_t capacity;\n'
                '    %(t)s *items;\n'
                '};\n' % {'n': c_list_name(ent), 't': ent.name})

    def append_proto(self, ent, suffix=''):
        name = c_list_name(ent)
        out = ''
        if suffix:
            out = ('/*\n'
                   ' * A new zeroed element at the end of *@list (created '
                   'when NULL), for\n'
                   ' * the caller to fill.  It moves when the list grows.\n'
                   ' */\n')
        return out + proto(ent.name + ' *', 'qapi_append_' + name,
                           ['%s **list' % name], suffix)

    def struct_def(self, ent):
        out = '\nstruct %s {\n' % ent.name
        out += member_lines(ent.members)
        if not ent.members:
            out += '    char qapi_dummy_for_empty_struct;\n'
        if isinstance(ent, UnionType) and ent.branches:
            out += ('    union { /* the branch selected by %s */\n'
                    % ent.discriminator.c_name)
            for br in ent.branches:
                out += '        %s %s;\n' % (br.type.name, br.c_name)
            out += '    } u;\n'
        out += '};\n'
        return out

    # ---- code ----

    def code(self):
        s = self.schema
        out = banner('Schema-defined C types', self.schema_fname)
        out += '\n#include "%s"\n' % self.h_name
        for ent in s.entities:
            if isinstance(ent, EnumType):
                out += self.enum_code(ent)
        for ent in s.entities:
            if isinstance(ent, StructType):
                out += self.free_members(ent)
        for ent in s.entities:
            if isinstance(ent, StructType):
                out += self.free_struct(ent)
            elif isinstance(ent, UnionType):
                out += self.free_union(ent)
            out += self.free_list(ent)
        return out

    def enum_code(self, ent):
        n = ent.name
        if not ent.values:
            return ('\nconst char *%s_str(%s value)\n'
                    '{\n'
                    '    (void)value;\n'
                    '    return NULL;\n'
                    '}\n'
                    '\n'
                    'bool %s_parse(const char *s, %s *out)\n'
                    '{\n'
                    '    (void)s;\n'
                    '    (void)out;\n'
                    '    return false;\n'
                    '}\n' % (n, n, n, n))
        out = ('\nstatic const char *const %s_names[%s] = {\n'
               % (n, ent.max_const))
        for v in ent.values:
            out += '    [%s] = "%s",\n' % (v.c_const, v.name)
        out += '};\n'
        out += ('\n'
                'const char *%(n)s_str(%(n)s value)\n'
                '{\n'
                '    if ((unsigned)value >= %(max)s) {\n'
                '        return NULL;\n'
                '    }\n'
                '    return %(n)s_names[value];\n'
                '}\n'
                '\n' % {'n': n, 'max': ent.max_const})
        out += proto('bool', n + '_parse', ['const char *s', '%s *out' % n])
        out += ('{\n'
                '    if (!s) {\n'
                '        return false;\n'
                '    }\n'
                '    for (int i = 0; i < %(max)s; i++) {\n'
                '        if (!strcmp(s, %(n)s_names[i])) {\n'
                '            *out = (%(n)s)i;\n'
                '            return true;\n'
                '        }\n'
                '    }\n'
                '    return false;\n'
                '}\n' % {'n': n, 'max': ent.max_const})
        return out

    def member_frees(self, members, indent):
        out = ''
        for m in members:
            out += free_stmt(m.type, 'obj->' + m.c_name, indent) or ''
        return out

    def free_members(self, ent):
        body = self.member_frees(ent.members, 4) or '    (void)obj;\n'
        return ('\nstatic void qapi_free_members_%s(%s *obj)\n'
                '{\n%s}\n' % (ent.name, ent.name, body))

    def free_struct(self, ent):
        return ('\nvoid qapi_free_%(n)s(%(n)s *obj)\n'
                '{\n'
                '    if (!obj) {\n'
                '        return;\n'
                '    }\n'
                '    qapi_free_members_%(n)s(obj);\n'
                '    g_free(obj);\n'
                '}\n' % {'n': ent.name})

    def free_union(self, ent):
        out = ('\nvoid qapi_free_%(n)s(%(n)s *obj)\n'
               '{\n'
               '    if (!obj) {\n'
               '        return;\n'
               '    }\n' % {'n': ent.name})
        out += self.member_frees(ent.members, 4)
        if ent.branches:
            out += '    switch (obj->%s) {\n' % ent.discriminator.c_name
            for br in ent.branches:
                out += ('    case %s:\n'
                        '        qapi_free_members_%s(&obj->u.%s);\n'
                        '        break;\n'
                        % (br.enum_value.c_const, br.type.name, br.c_name))
            out += ('    default:\n'
                    '        break;\n'
                    '    }\n')
        out += '    g_free(obj);\n}\n'
        return out

    def free_list(self, ent):
        name = c_list_name(ent)
        if ent.array_list:
            return self.array_list_code(ent)
        free = free_stmt(ent, 'obj->value', 8) or ''
        return ('\nvoid qapi_free_%(name)s(%(name)s *obj)\n'
                '{\n'
                '    while (obj) {\n'
                '        %(name)s *next = obj->next;\n'
                '\n'
                '%(free)s'
                '        g_free(obj);\n'
                '        obj = next;\n'
                '    }\n'
                '}\n' % {'name': name, 'free': free})


    def array_list_code(self, ent):
        name = c_list_name(ent)
        return ('\nvoid qapi_free_%(n)s(%(n)s *obj)\n'
                '{\n'
                '    if (obj) {\n'
                '        g_free(obj->items);\n'
                '        g_free(obj);\n'
                '    }\n'
                '}\n'
                '\n'
                '%(proto)s'
                '{\n'
                '    %(n)s *l = *list;\n'
                '\n'
                '    if (!l) {\n'
                '        l = *list = g_new0(%(n)s, 1);\n'
                '    }\n'
                '    if (l->len == l->capacity) {\n'
                '        /* Doubling: appends cost O(1) each. */\n'
                '        l->capacity = l->capacity ? 2 * l->capacity : 16;\n'
                '        l->items = g_renew(%(t)s, l->items, l->capacity);\n'
                '    }\n'
                '    memset(&l->items[l->len], 0, sizeof(l->items[0]));\n'
                '    return &l->items[l->len++];\n'
                '}\n' % {'n': name, 't': ent.name,
                         'proto': self.append_proto(ent)})


def generate(schema, prefix, schema_fname):
    gen = TypesGenerator(schema, prefix, schema_fname)
    return {prefix + 'qapi-types.h': gen.header(),
            prefix + 'qapi-types.c': gen.code()}
