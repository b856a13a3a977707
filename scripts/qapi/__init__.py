"""The QAPI schema compiler behind scripts/qapi-gen.py.

Modules:
  source      locations in schema files and the error type
  parser      schema text -> expressions and doc comments
  doc         doc comment blocks -> structured documentation
  schema      expressions -> checked, resolved type model
  names       C naming rules
  gen_types   C types and free functions
  gen_visit   output visitors (C value -> QObject)
  gen_introspect  query-qmp-schema style type description
  gen_docs    Markdown reference
  main        command line
"""
