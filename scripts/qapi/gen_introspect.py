"""Introspection: the schema as a JSON list of SchemaInfo objects, in
the shape of QMP's query-qmp-schema, both as a file and as a C string.

Unlike QEMU, which replaces the names of non-built-in types with
numbers in query-qmp-schema so that clients cannot come to depend on
them, we use the real names (and keep int8, uint32, size and the other
integer types distinct): this description is for documentation and
tooling that read our schema, not a wire protocol with compatibility
promises.
"""

import json

from .cgen import banner
from .names import c_name, guard_name
from .schema import ArrayType, EnumType, StructType


def _type_name(t):
    return t.schema_name if isinstance(t, ArrayType) else t.name


def _members(members):
    out = []
    for m in members:
        info = {'name': m.name, 'type': _type_name(m.type)}
        if m.optional:
            info['default'] = None
        out.append(info)
    return out


def schema_info(schema):
    """The SchemaInfo list: defined types in schema order, then the
    array types used, then the built-in types used."""
    infos = []
    for ent in schema.entities:
        if isinstance(ent, EnumType):
            infos.append({'name': ent.name, 'meta-type': 'enum',
                          'members': [{'name': v.name} for v in ent.values],
                          'values': [v.name for v in ent.values]})
            continue
        info = {'name': ent.name, 'meta-type': 'object',
                'members': _members(ent.members)}
        if not isinstance(ent, StructType):
            info['tag'] = ent.discriminator.name
            info['variants'] = [{'case': br.case, 'type': br.type.name}
                                for br in ent.branches]
        infos.append(info)
    for arr in schema.arrays():
        infos.append({'name': arr.schema_name, 'meta-type': 'array',
                      'element-type': arr.element.name})
    for t in schema.used_builtins():
        infos.append({'name': t.name, 'meta-type': 'builtin',
                      'json-type': t.json_type})
    return infos


def _c_string(text):
    """@text as a C string literal, one source line per line of text."""
    lines = []
    for line in text.splitlines(True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"')
        esc = esc.replace('\n', '\\n')
        lines.append('    "%s"' % esc)
    return '\n'.join(lines)


def generate(schema, prefix, schema_fname):
    text = json.dumps(schema_info(schema), indent=4,
                      separators=(',', ': ')) + '\n'
    fn = c_name(prefix, False) + 'qapi_introspect_json'
    h_name = prefix + 'qapi-introspect.h'
    guard = guard_name(h_name)
    what = 'Introspection data: the schema as SchemaInfo objects'
    header = (banner(what, schema_fname)
              + '\n#ifndef %s\n#define %s\n\n'
              '/*\n'
              ' * The schema as JSON text: a list of SchemaInfo objects '
              'shaped like the\n'
              ' * answer of QMP\'s query-qmp-schema, with real type names '
              '(see %s).\n'
              ' * The same text is in %s.\n'
              ' */\n'
              'const char *%s(void);\n'
              '\n#endif /* %s */\n'
              % (guard, guard, prefix + 'qapi-introspect.c',
                 prefix + 'qapi-introspect.json', fn, guard))
    code = (banner(what, schema_fname)
            + '\n/*\n'
            ' * Unlike QEMU, which masks the names of non-built-in types '
            'with numbers\n'
            ' * in query-qmp-schema, we use the real names: this data '
            'documents our\n'
            ' * schema for tools and people, it is not a wire protocol.\n'
            ' */\n'
            '\n#include "%s"\n'
            '\nstatic const char introspect_json[] =\n%s;\n'
            '\nconst char *%s(void)\n'
            '{\n'
            '    return introspect_json;\n'
            '}\n' % (h_name, _c_string(text), fn))
    return {h_name: header,
            prefix + 'qapi-introspect.c': code,
            prefix + 'qapi-introspect.json': text}
