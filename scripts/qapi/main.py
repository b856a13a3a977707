"""Command line of the schema compiler."""

import argparse
import os
import re
import sys

from . import gen_docs, gen_emit, gen_introspect, gen_types, gen_visit
from .schema import Schema
from .source import QAPIError


def _write(path, text):
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text)


def _depfile_escape(path):
    return path.replace('\\', '\\\\').replace(' ', '\\ ').replace('#', '\\#')


def generate(schema_fname, outdir, prefix, docs=None, depfile=None):
    """Check @schema_fname and write every output; raises QAPIError."""
    schema = Schema(schema_fname)
    base = os.path.basename(schema_fname)
    outputs = {}
    outputs.update(gen_types.generate(schema, prefix, base))
    outputs.update(gen_visit.generate(schema, prefix, base))
    outputs.update(gen_emit.generate(schema, prefix, base))
    outputs.update(gen_introspect.generate(schema, prefix, base))
    os.makedirs(outdir, exist_ok=True)
    for name, text in outputs.items():
        _write(os.path.join(outdir, name), text)
    if docs:
        _write(docs, gen_docs.generate(schema, base))
    if depfile:
        target = os.path.join(outdir, prefix + 'qapi-types.h')
        _write(depfile, '%s: %s\n' % (
            _depfile_escape(target),
            ' '.join(_depfile_escape(f) for f in schema.files)))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='qapi-gen.py',
        description='Check a QAPI schema and generate C types, output '
        'visitors, emitters, introspection data and (with --docs) a '
        'Markdown reference from it.')
    parser.add_argument('-o', '--output-dir', default='.', metavar='OUTDIR',
                        help='directory for the generated files '
                        '(default: current directory)')
    parser.add_argument('-p', '--prefix', default='', metavar='PREFIX',
                        help='prefix of the generated file names and of '
                        'the introspection function (default: none)')
    parser.add_argument('--docs', metavar='FILE',
                        help='also write the Markdown reference to FILE')
    parser.add_argument('--depfile', metavar='FILE',
                        help='write the schema files read, as a Makefile '
                        'dependency rule, to FILE')
    parser.add_argument('schema', metavar='SCHEMA',
                        help='the main schema file')
    args = parser.parse_args(argv)
    if not re.match(r'^[A-Za-z0-9_-]*$', args.prefix):
        parser.error("prefix '%s' may contain only letters, digits, '-' "
                     "and '_'" % args.prefix)
    try:
        generate(args.schema, args.output_dir, args.prefix, args.docs,
                 args.depfile)
    except QAPIError as err:
        print(err, file=sys.stderr)
        return 1
    except OSError as err:
        print('qapi-gen.py: %s' % err, file=sys.stderr)
        return 1
    return 0
