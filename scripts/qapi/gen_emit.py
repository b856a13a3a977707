"""Emitters: C values printed through a QapiEmitter as they are walked.

qapi_emit_T() prints exactly what printing qapi_out_T() would, without
building the QObject tree: `qemu-img check -M` values hold millions of
list entries, and a tree would double the memory.

What a QDict decides at run time is decided here instead: the members
of an object come in the order a QDict filled by qapi_out_T() iterates
them (qdict_order.py), given gen_visit.py's insertion order (the
flattened members, base first, then those of a union's branch).  An
absent optional member does not move the others, so one order per
struct, and per union branch, serves every value.
"""

from .cgen import banner, c_list_name, call, list_loop, proto
from .names import guard_name
from .qdict_order import qdict_order
from .schema import BuiltinType, EnumType, StructType

_SCALAR_FN = {'str': 'qapi_emitter_str', 'int': 'qapi_emitter_int',
              'uint': 'qapi_emitter_uint', 'double': 'qapi_emitter_double',
              'bool': 'qapi_emitter_bool'}


def emit_stmt(t, expr, indent):
    """C statement emitting @expr, a value of type @t."""
    if isinstance(t, BuiltinType):
        fn = _SCALAR_FN[t.out_kind]
    else:
        # enums, structs, unions and arrays (whose name is the list's)
        fn = 'qapi_emit_' + t.name
    return call(indent, '', fn, ['e', expr])


# Integer members are printed with their name in one call (the bulk of
# `check -M` output); the others name the member, then print the value.
_MEMBER_SCALAR_FN = {'int': 'qapi_emitter_member_int',
                     'uint': 'qapi_emitter_member_uint'}


def member_stmt(m, access, indent):
    """C statements emitting member @m of the object at @access.

    The name's length is passed so that the emitter needs no strlen():
    names are identifiers, so the C literal is as long as the name."""
    name = ['e', '"%s"' % m.name, str(len(m.name))]
    fn = (_MEMBER_SCALAR_FN.get(m.type.out_kind)
          if isinstance(m.type, BuiltinType) else None)
    if fn:
        return call(indent, '', fn, name + [access + m.c_name])
    return (call(indent, '', 'qapi_emitter_member_len', name)
            + emit_stmt(m.type, access + m.c_name, indent))


# Longer names do not fit QapiEmitterIntMember (QAPI_EMITTER_INT_NAME_MAX).
_INT_NAME_MAX = 32


def int_members(ent):
    """Whether struct @ent holds integers only, all present, with names
    that fit: then qapi_emitter_int_struct() prints it in one call."""
    return ent.members and all(
        not m.optional and isinstance(m.type, BuiltinType)
        and m.type.out_kind in ('int', 'uint')
        and len(m.name) < _INT_NAME_MAX
        for m in ent.members)


def ordered(members_with_access):
    """(Member, access prefix) pairs in insertion order -> print order."""
    by_name = {m.name: (m, access) for m, access in members_with_access}
    return [by_name[name] for name in
            qdict_order([m.name for m, _ in members_with_access])]


def member_stmts(members_with_access, indent):
    out = ''
    for m, access in ordered(members_with_access):
        pad = indent
        if m.optional:
            out += ' ' * indent + 'if (%shas_%s) {\n' % (access, m.c_name)
            pad += 4
        out += member_stmt(m, access, pad)
        if m.optional:
            out += ' ' * indent + '}\n'
    return out


def list_body(t):
    loop, elem = list_loop(t)
    return ('    qapi_emitter_start_list(e);\n'
            '    %s\n'
            '%s'
            '    }\n'
            '    qapi_emitter_end_list(e);\n'
            % (loop, emit_stmt(t, elem, 8)))


class EmitGenerator:
    def __init__(self, schema, prefix, schema_fname):
        self.schema = schema
        self.prefix = prefix
        self.schema_fname = schema_fname
        self.h_name = prefix + 'qapi-emit.h'

    # ---- header ----

    def header(self):
        s = self.schema
        guard = guard_name(self.h_name)
        out = banner('Emitters: schema-defined C types printed through a '
                     'QapiEmitter', self.schema_fname)
        out += ('\n#ifndef %s\n#define %s\n\n'
                '#include "qapi/emitter.h"\n'
                '#include "%s"\n' % (guard, guard,
                                     self.prefix + 'qapi-types.h'))
        out += ('\n/*\n'
                ' * Each qapi_emit_T() prints its value through @e exactly '
                'as @e prints\n'
                ' * qapi_out_T() of it: members in QDict order, optional '
                'members only\n'
                ' * when their has_ flag is set, NULL strings and enum '
                'values out of\n'
                ' * range as "", a NULL object as an empty object and a '
                'NULL list as an\n'
                ' * empty list.\n'
                ' */\n')
        for t in s.list_types():
            if t.is_builtin():
                out += self.builtin_list(t)
        out += '\n'
        for ent in s.entities:
            if isinstance(ent, EnumType):
                out += proto('void', 'qapi_emit_' + ent.name,
                             ['QapiEmitter *e', '%s value' % ent.name], ';')
            else:
                out += proto('void', 'qapi_emit_' + ent.name,
                             ['QapiEmitter *e', 'const %s *obj' % ent.name],
                             ';')
            name = c_list_name(ent)
            out += proto('void', 'qapi_emit_' + name,
                         ['QapiEmitter *e', 'const %s *list' % name], ';')
        out += '\n#endif /* %s */\n' % guard
        return out

    def builtin_list(self, t):
        """Lists of built-in types are shared by every generated header
        (see gen_types.py), so their emitters are guarded inlines."""
        name = c_list_name(t)
        guard = 'QAPI_BUILTIN_EMIT_' + name
        return ('\n#ifndef %(guard)s\n'
                '#define %(guard)s\n'
                '\n'
                '%(proto)s'
                '{\n'
                '%(body)s'
                '}\n'
                '\n'
                '#endif /* %(guard)s */\n'
                % {'guard': guard,
                   'proto': proto('static inline void', 'qapi_emit_' + name,
                                  ['QapiEmitter *e',
                                   'const %s *list' % name]),
                   'body': list_body(t)})

    # ---- code ----

    def code(self):
        out = banner('Emitters: schema-defined C types printed through a '
                     'QapiEmitter', self.schema_fname)
        out += '\n#include "%s"\n' % self.h_name
        for ent in self.schema.entities:
            if isinstance(ent, EnumType):
                out += self.enum_fn(ent)
            elif isinstance(ent, StructType):
                out += self.struct_fn(ent)
            else:
                out += self.union_fn(ent)
            out += self.list_fn(ent)
        return out

    def enum_fn(self, ent):
        return ('\n'
                + proto('void', 'qapi_emit_' + ent.name,
                        ['QapiEmitter *e', '%s value' % ent.name])
                + '{\n'
                '    qapi_emitter_str(e, %s_str(value));\n'
                '}\n' % ent.name)

    def struct_fn(self, ent):
        if int_members(ent):
            return self.int_struct_fn(ent)
        out = ('\n'
               + proto('void', 'qapi_emit_' + ent.name,
                       ['QapiEmitter *e', 'const %s *obj' % ent.name])
               + '{\n'
               '    qapi_emitter_start_struct(e);\n')
        if ent.members:
            out += ('    if (obj) {\n'
                    '%s'
                    '    }\n'
                    % member_stmts([(m, 'obj->') for m in ent.members], 8))
        else:
            out += '    (void)obj;\n'
        out += ('    qapi_emitter_end_struct(e);\n'
                '}\n')
        return out

    def int_struct_fn(self, ent):
        """A struct of integers only, printed by one call (see
        qapi_emitter_int_struct()), from a static table of its names."""
        members = ordered([(m, 'obj->') for m in ent.members])
        table = 'qapi_emit_%s_members' % ent.name
        out = ('\nstatic const QapiEmitterIntMember %s[] = {\n' % table)
        for m, _ in members:
            out += '    { "%s", %d, %s },\n' % (
                m.name, len(m.name),
                'true' if m.type.out_kind == 'int' else 'false')
        out += ('};\n'
                '\n'
                + proto('void', 'qapi_emit_' + ent.name,
                        ['QapiEmitter *e', 'const %s *obj' % ent.name])
                + '{\n'
                '    if (obj) {\n'
                '        const QapiEmitterInt values[] = {\n')
        for m, access in members:
            out += '            { .%s = %s%s },\n' % (
                'i' if m.type.out_kind == 'int' else 'u', access, m.c_name)
        out += ('        };\n'
                '\n'
                '        qapi_emitter_int_struct(e, %s, values,\n'
                '                                G_N_ELEMENTS(values));\n'
                '        return;\n'
                '    }\n'
                '    qapi_emitter_start_struct(e);\n'
                '    qapi_emitter_end_struct(e);\n'
                '}\n' % table)
        return out

    def union_fn(self, ent):
        base = [(m, 'obj->') for m in ent.members]
        out = ('\n'
               + proto('void', 'qapi_emit_' + ent.name,
                       ['QapiEmitter *e', 'const %s *obj' % ent.name])
               + '{\n'
               '    qapi_emitter_start_struct(e);\n'
               '    if (!obj) {\n'
               '        qapi_emitter_end_struct(e);\n'
               '        return;\n'
               '    }\n')
        if not ent.branches:
            out += member_stmts(base, 4)
        else:
            # The branch's members mix with the base's in print order,
            # so each branch prints the base members too.
            out += '    switch (obj->%s) {\n' % ent.discriminator.c_name
            for br in ent.branches:
                access = 'obj->u.%s.' % br.c_name
                out += '    case %s:\n' % br.enum_value.c_const
                out += member_stmts(
                    base + [(m, access) for m in br.type.members], 8)
                out += '        break;\n'
            out += '    default:\n'
            out += member_stmts(base, 8)
            out += ('        break;\n'
                    '    }\n')
        out += ('    qapi_emitter_end_struct(e);\n'
                '}\n')
        return out

    def list_fn(self, ent):
        name = c_list_name(ent)
        return ('\n'
                + proto('void', 'qapi_emit_' + name,
                        ['QapiEmitter *e', 'const %s *list' % name])
                + '{\n%s}\n' % list_body(ent))


def generate(schema, prefix, schema_fname):
    gen = EmitGenerator(schema, prefix, schema_fname)
    return {prefix + 'qapi-emit.h': gen.header(),
            prefix + 'qapi-emit.c': gen.code()}
