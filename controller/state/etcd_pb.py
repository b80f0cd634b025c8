"""etcd's v3 protobuf messages that the store sends and reads (KV.Range, KV.Txn).

Built here from a table of etcd's wire format (message and field names and
numbers as in etcd's ``rpc.proto`` and ``kv.proto``), not compiled from
``.proto`` files: protoc comes with grpcio-tools, which needs setuptools >= 77,
and Ryu's Python 3.11 environment must keep setuptools < 68. Fields the store
never sends or reads are left out (protobuf skips unknown fields); enums are
plain integers on the wire, so they are integers here (``Compare``'s constants).

    pb.TxnRequest(compare=[pb.Compare(key=b'k', target=pb.MOD, mod_revision=3)])
"""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = 'etcdserverpb'
# Compare.target and Compare.result
VERSION, CREATE, MOD, VALUE = 0, 1, 2, 3
EQUAL = 0

_F = descriptor_pb2.FieldDescriptorProto
_SCALAR = {'int64': _F.TYPE_INT64, 'uint64': _F.TYPE_UINT64, 'int32': _F.TYPE_INT32,
           'bool': _F.TYPE_BOOL, 'bytes': _F.TYPE_BYTES, 'string': _F.TYPE_STRING}
# message: [(field, number, type)]; 'X*' a repeated X, 'X|oneof' a member of a oneof
MESSAGES = {
    'ResponseHeader': [('cluster_id', 1, 'uint64'), ('member_id', 2, 'uint64'),
                       ('revision', 3, 'int64'), ('raft_term', 4, 'uint64')],
    'KeyValue': [('key', 1, 'bytes'), ('create_revision', 2, 'int64'),
                 ('mod_revision', 3, 'int64'), ('version', 4, 'int64'),
                 ('value', 5, 'bytes'), ('lease', 6, 'int64')],
    'RangeRequest': [('key', 1, 'bytes'), ('range_end', 2, 'bytes'), ('limit', 3, 'int64'),
                     ('revision', 4, 'int64')],
    'RangeResponse': [('header', 1, 'ResponseHeader'), ('kvs', 2, 'KeyValue*'),
                      ('more', 3, 'bool'), ('count', 4, 'int64')],
    'PutRequest': [('key', 1, 'bytes'), ('value', 2, 'bytes'), ('lease', 3, 'int64'),
                   ('prev_kv', 4, 'bool')],
    'PutResponse': [('header', 1, 'ResponseHeader'), ('prev_kv', 2, 'KeyValue')],
    'DeleteRangeRequest': [('key', 1, 'bytes'), ('range_end', 2, 'bytes')],
    'RequestOp': [('request_range', 1, 'RangeRequest|request'),
                  ('request_put', 2, 'PutRequest|request'),
                  ('request_delete_range', 3, 'DeleteRangeRequest|request')],
    'Compare': [('result', 1, 'int32'), ('target', 2, 'int32'), ('key', 3, 'bytes'),
                ('version', 4, 'int64|target_union'),
                ('create_revision', 5, 'int64|target_union'),
                ('mod_revision', 6, 'int64|target_union'),
                ('value', 7, 'bytes|target_union'), ('lease', 8, 'int64|target_union'),
                ('range_end', 64, 'bytes')],
    'TxnRequest': [('compare', 1, 'Compare*'), ('success', 2, 'RequestOp*'),
                   ('failure', 3, 'RequestOp*')],
    'ResponseOp': [('response_range', 1, 'RangeResponse|response'),
                   ('response_put', 2, 'PutResponse|response')],
    'TxnResponse': [('header', 1, 'ResponseHeader'), ('succeeded', 2, 'bool'),
                    ('responses', 3, 'ResponseOp*')],
}


def file_descriptor(package=PACKAGE, messages=MESSAGES):
    """The FileDescriptorProto that ``protoc`` would make of the table."""
    proto = descriptor_pb2.FileDescriptorProto(name='vnetsec/%s.proto' % package,
                                               package=package, syntax='proto3')
    for name, fields in messages.items():
        message = proto.message_type.add(name=name)
        oneofs = []
        for field, number, kind in fields:
            kind, _, oneof = kind.partition('|')
            repeated = kind.endswith('*')
            kind = kind.rstrip('*')
            f = message.field.add(name=field, number=number,
                                  label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if kind in _SCALAR:
                f.type = _SCALAR[kind]
            else:
                f.type, f.type_name = _F.TYPE_MESSAGE, '.%s.%s' % (package, kind)
            if oneof:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
                f.oneof_index = oneofs.index(oneof)
    return proto


_pool = descriptor_pool.DescriptorPool()
_pool.Add(file_descriptor())


def _message(name):
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(PACKAGE + '.' + name))


ResponseHeader, KeyValue = _message('ResponseHeader'), _message('KeyValue')
RangeRequest, RangeResponse = _message('RangeRequest'), _message('RangeResponse')
PutRequest, DeleteRangeRequest = _message('PutRequest'), _message('DeleteRangeRequest')
PutResponse, ResponseOp = _message('PutResponse'), _message('ResponseOp')
RequestOp, Compare = _message('RequestOp'), _message('Compare')
TxnRequest, TxnResponse = _message('TxnRequest'), _message('TxnResponse')
