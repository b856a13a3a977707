"""The checked schema: every type resolved, every rule enforced.

Schema(fname) parses the schema, checks each expression's shape and
names, resolves type references, flattens bases, checks unions and
documentation, and raises QAPIError at the first problem.
"""

from .names import (ENUM_PREFIX_RE, ENUM_VALUE_RE, MEMBER_NAME_RE,
                    TYPE_NAME_RE, c_name, camel_to_upper, enum_const)
from .parser import FreeDoc, parse_schema
from .source import QAPIError


# ---- the type model ----

class QAPIType:
    meta = None
    # Lists of this type are stored as arrays (pragma 'array-lists').
    array_list = False

    def __init__(self, name, info=None, doc=None):
        self.name = name
        self.info = info
        self.doc = doc

    def describe(self):
        return "%s '%s'" % (self.meta, self.name)

    def is_builtin(self):
        return self.info is None

    def c_type(self):
        """C type of a member or list element of this type."""
        raise NotImplementedError

    def c_list_type(self):
        return self.name + 'List'


class BuiltinType(QAPIType):
    meta = 'built-in type'

    def __init__(self, name, c_type, json_type, out_kind):
        super().__init__(name)
        self._c_type = c_type
        self.json_type = json_type
        # how the output visitor converts it: str, int, uint, double, bool
        self.out_kind = out_kind

    def c_type(self):
        return self._c_type


BUILTINS = [BuiltinType('str', 'char *', 'string', 'str'),
            BuiltinType('int', 'int64_t', 'int', 'int')]
BUILTINS += [BuiltinType('int%d' % n, 'int%d_t' % n, 'int', 'int')
             for n in (8, 16, 32, 64)]
BUILTINS += [BuiltinType('uint%d' % n, 'uint%d_t' % n, 'int', 'uint')
             for n in (8, 16, 32, 64)]
BUILTINS += [BuiltinType('size', 'uint64_t', 'int', 'uint'),
             BuiltinType('number', 'double', 'number', 'double'),
             BuiltinType('bool', 'bool', 'boolean', 'bool')]


class EnumValue:
    def __init__(self, name, info):
        self.name = name
        self.info = info
        self.c_const = None


class EnumType(QAPIType):
    meta = 'enum'

    def __init__(self, name, info, doc, values, prefix):
        super().__init__(name, info, doc)
        self.values = values
        self.prefix = prefix or camel_to_upper(name)
        for v in values:
            v.c_const = enum_const(self.prefix, v.name)
        self.max_const = self.prefix + '__MAX'

    def c_type(self):
        return self.name

    def value(self, name):
        for v in self.values:
            if v.name == name:
                return v
        return None


class Member:
    """A member of an object type.

    owner is the type whose 'data' (or inline base) declares it, which
    for inherited members is a base of the type being generated.
    """

    def __init__(self, name, type_ref, optional, info, owner):
        self.name = name
        self.type_ref = type_ref
        self.type = None
        self.optional = optional
        self.info = info
        self.owner = owner
        self.c_name = c_name(name)

    def describe(self):
        return "member '%s' of %s" % (self.name, self.owner.describe())


class TypeRef:
    """An unresolved reference: 'Name' or ['Name']."""

    def __init__(self, name, is_array, info):
        self.name = name
        self.is_array = is_array
        self.info = info


class StructType(QAPIType):
    meta = 'struct'

    def __init__(self, name, info, doc, base_ref, own_members):
        super().__init__(name, info, doc)
        self.base_ref = base_ref
        self.base = None
        self.own_members = own_members
        self.members = None          # flattened: base members first

    def c_type(self):
        return self.name + ' *'


class Branch:
    def __init__(self, case, type_ref, info):
        self.case = case
        self.type_ref = type_ref
        self.type = None
        self.info = info
        self.enum_value = None
        self.c_name = c_name(case)


class UnionType(QAPIType):
    meta = 'union'

    def __init__(self, name, info, doc, base_ref, inline_members,
                 discriminator, disc_info, branches):
        super().__init__(name, info, doc)
        self.base_ref = base_ref           # named base, or None
        self.inline_members = inline_members   # inline base, or None
        self.base = None
        self.members = None                # the base's members
        self.discriminator_name = discriminator
        self.disc_info = disc_info
        self.discriminator = None          # the Member
        self.branches = branches

    def c_type(self):
        return self.name + ' *'

    def tag_type(self):
        return self.discriminator.type


class ArrayType(QAPIType):
    meta = 'array'

    def __init__(self, element):
        super().__init__(element.c_list_type())
        self.element = element
        self.schema_name = '[%s]' % element.name

    def describe(self):
        return "array type '%s'" % self.schema_name

    def c_type(self):
        return self.name + ' *'


# ---- checking helpers ----

def _check_keys(expr, desc, required, optional):
    expr.check_duplicates("%s has key '%%s' twice" % desc)
    for key in expr:
        if key not in required and key not in optional:
            raise QAPIError(expr.key_info[key],
                            "%s has unknown key '%s'" % (desc, key))
    for key in required:
        if key not in expr:
            raise QAPIError(expr.info, "%s lacks key '%s'" % (desc, key))


def _check_type_name(name, info, what):
    if not isinstance(name, str):
        raise QAPIError(info, '%s must be a string' % what)
    if not TYPE_NAME_RE.match(name):
        raise QAPIError(info, "'%s' is not a valid type name (use "
                        "CamelCase: letters and digits, starting with an "
                        "upper-case letter)" % name)
    if name.endswith('List'):
        raise QAPIError(info, "type name '%s' must not end in 'List' "
                        "(reserved for array types)" % name)


def _check_member_name(name, info, owner_desc, reserved=()):
    if not MEMBER_NAME_RE.match(name):
        raise QAPIError(info, "%s: '%s' is not a valid member name (use "
                        "lower-case letters, digits, '-' and '_', starting "
                        "with a letter)" % (owner_desc, name))
    if name.startswith(('has-', 'has_')):
        raise QAPIError(info, "%s: member name '%s' is reserved: 'has_' "
                        "prefixes the C presence flags of optional members"
                        % (owner_desc, name))
    if name.startswith(('q-', 'q_')):
        raise QAPIError(info, "%s: member name '%s' is reserved: 'q_' "
                        "prefixes generated C names" % (owner_desc, name))
    if name in reserved:
        raise QAPIError(info, "%s: member name '%s' is reserved: %s"
                        % (owner_desc, name, reserved[name]))


def _type_ref(value, info, what, allow_dict=True):
    if isinstance(value, str):
        return TypeRef(value, False, info)
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], list):
            raise QAPIError(info, '%s: arrays of arrays are not supported'
                            % what)
        if len(value) != 1 or not isinstance(value[0], str):
            raise QAPIError(info, "%s: an array type is written "
                            "['TypeName'], with exactly one type name"
                            % what)
        return TypeRef(value[0], True, info)
    if isinstance(value, dict) and allow_dict:
        value.check_duplicates("%s has key '%%s' twice" % what)
        for key in value:
            if key != 'type':
                raise QAPIError(info, "%s has unknown key '%s'"
                                % (what, key))
        if 'type' not in value:
            raise QAPIError(info, "%s lacks key 'type'" % what)
        return _type_ref(value['type'], info, what, False)
    raise QAPIError(info, "%s: a type must be a type name or "
                    "['TypeName']" % what)


def _members(data, info, owner, owner_desc, reserved=()):
    if not isinstance(data, dict):
        raise QAPIError(info, "the members of %s must be an object"
                        % owner_desc)
    data.check_duplicates("%s has member '%%s' twice" % owner_desc)
    members = []
    seen = set()
    for key, value in data.items():
        minfo = data.key_info[key]
        optional = key.startswith('*')
        name = key[1:] if optional else key
        if name in seen:
            raise QAPIError(minfo, "%s has member '%s' twice"
                            % (owner_desc, name))
        seen.add(name)
        _check_member_name(name, minfo, owner_desc, reserved)
        ref = _type_ref(value, minfo,
                        "member '%s' of %s" % (name, owner_desc))
        members.append(Member(name, ref, optional, minfo, owner))
    return members


_META_KEYS = ('enum', 'struct', 'union')
_UNSUPPORTED_KEYS = ('command', 'event', 'alternate')
_PRAGMAS = ('array-lists',)

_UNION_RESERVED = {'u': "the C struct of a union holds its branches in 'u'"}


class Schema:
    """A checked schema.

    types: {name: QAPIType} for built-in and defined types
    entities: the defined types, in schema order
    doc_items: defined types and free-form Docs, in schema order
    arrays: the array types used anywhere, in a stable order
    files: the schema files read, main file first
    """

    def __init__(self, fname):
        self.fname = fname
        items, self.files = parse_schema(fname)
        self.types = {t.name: t for t in BUILTINS}
        self.entities = []
        self.doc_items = []
        self._arrays = {}
        array_lists = []
        for item in items:
            if isinstance(item, FreeDoc):
                self.doc_items.append(item.doc)
            elif 'pragma' in item.expr:
                array_lists += self._pragma(item)
            else:
                self._define(item)
        for item in items:
            if not isinstance(item, FreeDoc):
                _check_no_duplicates(item.expr)
        self._resolve()
        for name, info in array_lists:
            self._set_array_list(name, info)
        self._check_enum_consts()
        for ent in self.entities:
            self._check_doc(ent)

    # ---- collecting definitions ----

    def _define(self, item):
        expr = item.expr
        info = item.info
        metas = [k for k in _META_KEYS if k in expr]
        for key in _UNSUPPORTED_KEYS:
            if key in expr:
                raise QAPIError(info, "'%s' expressions are not supported"
                                % key)
        if len(metas) != 1:
            raise QAPIError(info, "an expression must have exactly one of "
                            "the keys 'enum', 'struct', 'union' or "
                            "'include'")
        meta = metas[0]
        name = expr[meta]
        _check_type_name(name, info, "the name of a %s" % meta)
        if name in self.types:
            other = self.types[name]
            where = ('a built-in type' if other.is_builtin()
                     else 'already defined at %s' % other.info)
            raise QAPIError(info, "%s '%s' is %s" % (meta, name, where))
        desc = "%s '%s'" % (meta, name)
        ent = getattr(self, '_define_' + meta)(expr, info, item.doc, name,
                                               desc)
        self.types[name] = ent
        self.entities.append(ent)
        self.doc_items.append(ent)

    def _define_enum(self, expr, info, doc, name, desc):
        _check_keys(expr, desc, ('enum', 'data'), ('prefix',))
        data = expr['data']
        if not isinstance(data, list):
            raise QAPIError(expr.key_info['data'],
                            "the values of %s must be an array" % desc)
        values = []
        seen = {}
        for item, vinfo in zip(data, data.item_info):
            if isinstance(item, dict):
                _check_keys(item, 'a value of %s' % desc, ('name',), ())
                item = item['name']
            if not isinstance(item, str):
                raise QAPIError(vinfo, "the values of %s must be strings"
                                % desc)
            if not ENUM_VALUE_RE.match(item):
                raise QAPIError(vinfo, "%s: '%s' is not a valid value name "
                                "(use lower-case letters, digits, '-', '_' "
                                "and '.')" % (desc, item))
            cname = c_name(item, False).upper()
            if cname in seen:
                if seen[cname] == item:
                    raise QAPIError(vinfo, "%s has value '%s' twice"
                                    % (desc, item))
                raise QAPIError(vinfo, "%s: value '%s' clashes with value "
                                "'%s' (both are '%s' in C)"
                                % (desc, item, seen[cname], cname))
            seen[cname] = item
            values.append(EnumValue(item, vinfo))
        prefix = expr.get('prefix')
        if prefix is not None and (not isinstance(prefix, str)
                                   or not ENUM_PREFIX_RE.match(prefix)):
            raise QAPIError(expr.key_info['prefix'],
                            "%s: 'prefix' must be an upper-case C "
                            "identifier" % desc)
        return EnumType(name, info, doc, values, prefix)

    def _define_struct(self, expr, info, doc, name, desc):
        _check_keys(expr, desc, ('struct', 'data'), ('base',))
        base_ref = None
        if 'base' in expr:
            binfo = expr.key_info['base']
            if not isinstance(expr['base'], str):
                raise QAPIError(binfo, "the base of %s must be a type name"
                                % desc)
            base_ref = TypeRef(expr['base'], False, binfo)
        st = StructType(name, info, doc, base_ref, [])
        st.own_members = _members(expr['data'], expr.key_info['data'], st,
                                  desc)
        return st

    def _define_union(self, expr, info, doc, name, desc):
        _check_keys(expr, desc, ('union', 'base', 'discriminator', 'data'),
                    ())
        un = UnionType(name, info, doc, None, None, None, None, [])
        base = expr['base']
        binfo = expr.key_info['base']
        if isinstance(base, str):
            un.base_ref = TypeRef(base, False, binfo)
        elif isinstance(base, dict):
            un.inline_members = _members(base, binfo, un, desc,
                                         _UNION_RESERVED)
        else:
            raise QAPIError(binfo, "the base of %s must be a struct type "
                            "name or an object of members" % desc)
        disc = expr['discriminator']
        un.disc_info = expr.key_info['discriminator']
        if not isinstance(disc, str):
            raise QAPIError(un.disc_info, "the discriminator of %s must be "
                            "a member name" % desc)
        un.discriminator_name = disc
        data = expr['data']
        dinfo = expr.key_info['data']
        if not isinstance(data, dict):
            raise QAPIError(dinfo, "the branches of %s must be an object"
                            % desc)
        data.check_duplicates("%s has branch '%%s' twice" % desc)
        for case, value in data.items():
            cinfo = data.key_info[case]
            what = "branch '%s' of %s" % (case, desc)
            ref = _type_ref(value, cinfo, what)
            if ref.is_array:
                raise QAPIError(cinfo, "%s must be a struct type, not an "
                                "array" % what)
            un.branches.append(Branch(case, ref, cinfo))
        return un

    # ---- pragmas ----

    def _pragma(self, item):
        """Check a pragma; return its 'array-lists' as (name, info)."""
        expr, info = item.expr, item.info
        if item.doc is not None:
            raise QAPIError(item.doc.info, "a pragma takes no documentation "
                            "comment")
        _check_keys(expr, 'a pragma', ('pragma',), ())
        body = expr['pragma']
        if not isinstance(body, dict):
            raise QAPIError(info, "value of 'pragma' must be an object")
        _check_keys(body, "'pragma'", (), _PRAGMAS)
        names = body.get('array-lists', [])
        ninfo = body.key_info.get('array-lists', info)
        if not isinstance(names, list) or \
                not all(isinstance(n, str) for n in names):
            raise QAPIError(ninfo, "pragma 'array-lists' must be a list of "
                            "type names")
        return [(n, ninfo) for n in names]

    def _set_array_list(self, name, info):
        """Lists of @name are to be stored as arrays of values.  An
        element is then copied, not pointed to, and freed with the
        array, so it must own nothing: every member a number, a bool or
        an enum value."""
        what = "pragma 'array-lists': type '%s'" % name
        t = self.types.get(name)
        if t is None:
            raise QAPIError(info, "%s is not defined" % what)
        if t.array_list:
            raise QAPIError(info, "%s is named twice" % what)
        if not isinstance(t, StructType):
            raise QAPIError(info, "%s must be a struct, but it is %s"
                            % (what, _a(t)))
        for m in t.members:
            if not (isinstance(m.type, EnumType)
                    or (isinstance(m.type, BuiltinType)
                        and m.type.out_kind != 'str')):
                raise QAPIError(info, "%s must hold only numbers, bools and "
                                "enum values, but %s has type '%s'"
                                % (what, m.describe(), _type_name(m.type)))
        t.array_list = True

    # ---- resolving ----

    def _lookup(self, ref, what):
        elem = self.types.get(ref.name)
        if elem is None:
            raise QAPIError(ref.info, "%s uses unknown type '%s'"
                            % (what, ref.name))
        if not ref.is_array:
            return elem
        return self._array_of(elem)

    def _array_of(self, elem):
        arr = self._arrays.get(elem.name)
        if arr is None:
            arr = self._arrays[elem.name] = ArrayType(elem)
        return arr

    def _resolve(self):
        for ent in self.entities:
            if isinstance(ent, StructType):
                self._resolve_struct(ent, [])
        for ent in self.entities:
            if isinstance(ent, UnionType):
                self._resolve_union(ent)

    def _resolve_struct(self, st, chain):
        if st.members is not None:
            return st.members
        if st in chain:
            cycle = chain[chain.index(st):] + [st]
            raise QAPIError(st.info, "struct '%s' is its own base: %s"
                            % (st.name,
                               ' -> '.join(s.name for s in cycle)))
        members = []
        if st.base_ref:
            base = self._lookup(st.base_ref, "the base of struct '%s'"
                                % st.name)
            if not isinstance(base, StructType):
                raise QAPIError(st.base_ref.info, "the base of struct '%s' "
                                "must be a struct, but '%s' is %s"
                                % (st.name, base.name, _a(base)))
            st.base = base
            members = list(self._resolve_struct(base, chain + [st]))
        for m in st.own_members:
            m.type = self._lookup(m.type_ref, m.describe())
            _add_member(members, m)
        st.members = members
        return members

    def _resolve_union(self, un):
        desc = un.describe()
        if un.base_ref:
            base = self._lookup(un.base_ref, "the base of %s" % desc)
            if not isinstance(base, StructType):
                raise QAPIError(un.base_ref.info, "the base of %s must be a "
                                "struct, but '%s' is %s"
                                % (desc, base.name, _a(base)))
            un.base = base
            members = list(base.members)
            for m in members:
                if m.name in _UNION_RESERVED:
                    raise QAPIError(un.base_ref.info, "the base of %s has "
                                    "member '%s', which is reserved: %s"
                                    % (desc, m.name,
                                       _UNION_RESERVED[m.name]))
        else:
            members = []
            for m in un.inline_members:
                m.type = self._lookup(m.type_ref, m.describe())
                _add_member(members, m)
        un.members = members
        disc = None
        for m in members:
            if m.name == un.discriminator_name:
                disc = m
        if disc is None:
            raise QAPIError(un.disc_info, "the discriminator '%s' of %s is "
                            "not a member of its base"
                            % (un.discriminator_name, desc))
        if disc.optional:
            raise QAPIError(un.disc_info, "the discriminator '%s' of %s must "
                            "not be optional" % (disc.name, desc))
        if not isinstance(disc.type, EnumType):
            raise QAPIError(un.disc_info, "the discriminator '%s' of %s must "
                            "have an enum type, but its type '%s' is %s"
                            % (disc.name, desc, _type_name(disc.type),
                               _a(disc.type)))
        un.discriminator = disc
        for br in un.branches:
            self._resolve_branch(un, br)

    def _resolve_branch(self, un, br):
        desc = un.describe()
        tag = un.discriminator.type
        br.enum_value = tag.value(br.case)
        if br.enum_value is None:
            raise QAPIError(br.info, "branch '%s' of %s is not a value of "
                            "its discriminator's enum '%s'"
                            % (br.case, desc, tag.name))
        what = "branch '%s' of %s" % (br.case, desc)
        br.type = self._lookup(br.type_ref, what)
        if not isinstance(br.type, StructType):
            raise QAPIError(br.info, "%s must be a struct, but '%s' is %s"
                            % (what, br.type.name, _a(br.type)))
        for m in br.type.members:
            for bm in un.members:
                if m.name == bm.name or m.c_name == bm.c_name:
                    raise QAPIError(br.info, "member '%s' of %s (struct "
                                    "'%s') clashes with base member '%s' "
                                    "of %s" % (m.name, what, br.type.name,
                                               bm.name, desc))

    def _check_enum_consts(self):
        consts = {}
        for ent in self.entities:
            if not isinstance(ent, EnumType):
                continue
            for c, v in ([(v.c_const, v) for v in ent.values]
                         + [(ent.max_const, None)]):
                if c in consts:
                    other = consts[c]
                    raise QAPIError(v.info if v else ent.info,
                                    "C enum constant '%s' of enum '%s' "
                                    "clashes with that of enum '%s'"
                                    % (c, ent.name, other.name))
                consts[c] = ent

    # ---- documentation ----

    def _check_doc(self, ent):
        doc = ent.doc
        desc = ent.describe()
        if doc is None:
            raise QAPIError(ent.info, "%s lacks a documentation comment "
                            "('##' block naming '@%s:')" % (desc, ent.name))
        if doc.symbol != ent.name:
            raise QAPIError(doc.info, "documentation comment is for '%s', "
                            "but the definition that follows is '%s'"
                            % (doc.symbol, ent.name))
        if isinstance(ent, EnumType):
            own = [(v.name, v.info, "value '%s' of %s" % (v.name, desc))
                   for v in ent.values]
        elif isinstance(ent, StructType):
            own = [(m.name, m.info, m.describe()) for m in ent.own_members]
        else:
            own = [(m.name, m.info, m.describe())
                   for m in ent.inline_members or []]
        for name, info, what in own:
            if name not in doc.args:
                raise QAPIError(info, '%s is not documented' % what)
        names = {name for name, _, _ in own}
        if isinstance(ent, UnionType):
            names |= {br.case for br in ent.branches}
        inherited = {m.name: m for m in _all_members(ent)
                     if m.name not in names}
        for arg in doc.args.values():
            if arg.name in inherited:
                raise QAPIError(arg.info, "documentation of '%s' describes "
                                "'@%s', which %s inherits from %s; it is "
                                "documented there"
                                % (ent.name, arg.name, desc,
                                   inherited[arg.name].owner.describe()))
            if arg.name not in names:
                raise QAPIError(arg.info, "documentation of '%s' describes "
                                "'@%s', which is not %s of %s"
                                % (ent.name, arg.name,
                                   'a value' if isinstance(ent, EnumType)
                                   else 'a member', desc))

    # ---- queries for the generators ----

    def arrays(self):
        """Every array type the schema uses, ordered by element type
        (built-ins in their fixed order, then schema order)."""
        order = {t.name: i for i, t in
                 enumerate(BUILTINS + self.entities)}
        return sorted(self._arrays.values(),
                      key=lambda a: order[a.element.name])

    def used_builtins(self):
        """Built-in types that occur anywhere, in their fixed order."""
        used = set()
        for ent in self.entities:
            for m in _all_members(ent):
                t = m.type
                if isinstance(t, ArrayType):
                    t = t.element
                used.add(t.name)
        return [t for t in BUILTINS if t.name in used]

    def list_types(self):
        """Element types of the C list types generated: every defined
        type, plus the built-ins used in arrays."""
        builtin = [a.element for a in self.arrays()
                   if a.element.is_builtin()]
        return builtin + self.entities


def _check_no_duplicates(value):
    """Report repeated keys no specific check has reported."""
    if isinstance(value, dict):
        value.check_duplicates("duplicate key '%s'")
        for v in value.values():
            _check_no_duplicates(v)
    elif isinstance(value, list):
        for v in value:
            _check_no_duplicates(v)


def _all_members(ent):
    if isinstance(ent, EnumType):
        return []
    return ent.members


def _add_member(members, m):
    for other in members:
        if other.name == m.name or other.c_name == m.c_name:
            if other.owner is not m.owner:
                raise QAPIError(m.info, "%s clashes with member '%s' of its "
                                "base %s" % (m.describe(), other.name,
                                             other.owner.describe()))
            raise QAPIError(m.info, "%s clashes with member '%s' (both are "
                            "'%s' in C)" % (m.describe(), other.name,
                                            m.c_name))
    members.append(m)


def _type_name(t):
    return t.schema_name if isinstance(t, ArrayType) else t.name


def _a(t):
    if isinstance(t, ArrayType):
        return 'an array'
    if isinstance(t, BuiltinType):
        return 'a built-in type'
    return {'enum': 'an enum', 'struct': 'a struct',
            'union': 'a union'}[t.meta]


__all__ = ['Schema', 'BuiltinType', 'EnumType', 'StructType', 'UnionType',
           'ArrayType', 'Member', 'Branch', 'BUILTINS']
