"""Differential test of ringgate's JSON <-> protobuf transcoder (grpc/pb_json_*.c)
against the reference, google.protobuf.json_format (Debian's python3-protobuf).

The C side runs in pbjson_tool, one process for every case (base64 lines in
and out).  Both sides load the same descriptor set, built from
tests/protos/transcode_test.proto with protoc (or taken from
PBJSON_DESCRIPTORS).

  random   messages from a fixed seed, every field kind, extreme values;
           each is printed by both (all print options) and the JSON texts
           compared value by value (types and float spelling included),
           then each side's JSON is parsed by the other side and the
           messages compared.
  edges    hand-written JSON and wire bytes where the rules are subtle:
           both sides must agree on accept / reject, and on the result.
"""
import base64
import json
import math
import os
import random
import shutil
import struct
import subprocess
import tempfile
import warnings

import pytest

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor as FD

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTOS = os.path.join(ROOT, "tests", "protos")

SEED = int(os.environ.get("PBJSON_SEED", "20240601"))
N_RANDOM = int(os.environ.get("PBJSON_CASES", "1200"))
PRINT_FLAGS = [(), ("defaults",), ("proto_names",), ("enum_ints",),
               ("defaults", "proto_names", "enum_ints")]


def tool_bin():
    if os.environ.get("PBJSON_TOOL"):
        return os.environ["PBJSON_TOOL"]
    rg = os.environ.get("RINGGATE_BIN", os.path.join(ROOT, "build", "gateway", "ringgate"))
    build = os.path.dirname(os.path.dirname(os.path.abspath(rg)))
    return os.path.join(build, "tests", "integration", "pbjson_tool")


@pytest.fixture(scope="module")
def descriptors():
    if os.environ.get("PBJSON_DESCRIPTORS"):
        yield os.environ["PBJSON_DESCRIPTORS"]
        return
    d = tempfile.mkdtemp(prefix="pbjson")
    out = os.path.join(d, "transcode_test.pb")
    subprocess.run(["protoc", "--include_imports", "--descriptor_set_out=" + out,
                    "-I" + PROTOS, "-I/usr/include", "transcode_test.proto"], check=True)
    yield out
    shutil.rmtree(d)


class Tool:
    """pbjson_tool as a child process: one request line, one answer line."""

    def __init__(self, descriptors):
        path = tool_bin()
        if not os.path.exists(path):
            pytest.skip("pbjson_tool not built: %s" % path)
        self.stderr = tempfile.TemporaryFile()
        self.p = subprocess.Popen([path, descriptors, "transcode.test.Everything"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.stderr)

    def req(self, kind, data, *flags):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        line = kind + " " + (base64.b64encode(data).decode() or "-") + "".join(
            " " + f for f in flags)
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        ans = self.p.stdout.readline().decode().rstrip("\n")
        assert ans, "pbjson_tool died: " + self.errors()
        if ans.startswith("OK "):
            return True, base64.b64decode(ans[3:])
        return False, ans

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close(self):
        self.p.stdin.close()
        rc = self.p.wait(timeout=60)
        err = self.errors()
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert marker not in err, err
        assert rc == 0, err


class Schema:
    def __init__(self, path):
        fds = descriptor_pb2.FileDescriptorSet.FromString(open(path, "rb").read())
        self.pool = descriptor_pool.DescriptorPool()
        for f in fds.file:
            self.pool.Add(f)
        self.factory = message_factory.MessageFactory(self.pool)

    def cls(self, name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(name))


@pytest.fixture(scope="module")
def env(descriptors):
    tool = Tool(descriptors)
    schema = Schema(descriptors)
    yield tool, schema
    tool.close()


# ---------------------------------------------------------------- comparisons


def same_json(a, b, path="$"):
    """Strict equality of two parsed JSON values: the same types (1 is not
    1.0), floats spelled alike (repr), NaN equal to NaN, keys in any order."""
    assert type(a) is type(b), "%s: %r vs %r" % (path, a, b)
    if isinstance(a, dict):
        assert set(a) == set(b), "%s: keys %s vs %s" % (path, sorted(a), sorted(b))
        for k in a:
            same_json(a[k], b[k], "%s.%s" % (path, k))
    elif isinstance(a, list):
        assert len(a) == len(b), "%s: %d vs %d elements" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            same_json(x, y, "%s[%d]" % (path, i))
    elif isinstance(a, float):
        assert repr(a) == repr(b), "%s: %r vs %r" % (path, a, b)
    else:
        assert a == b, "%s: %r vs %r" % (path, a, b)


def canonical(schema, msg):
    """Deterministic bytes of a message, with every map rebuilt (python's
    C++ maps keep duplicate wire entries until read) and every Any's
    payload re-serialised canonically (the transcoder writes Any payloads
    in JSON key order, json_format in field order)."""
    msg = type(msg).FromString(msg.SerializeToString())
    normalize(schema, msg)
    return msg.SerializeToString(deterministic=True)


def normalize(schema, msg):
    d = msg.DESCRIPTOR
    if d.full_name == "google.protobuf.Any" and msg.type_url:
        name = msg.type_url.split("/")[-1]
        try:
            inner = schema.cls(name).FromString(msg.value)
        except Exception:
            return
        normalize(schema, inner)
        msg.value = inner.SerializeToString(deterministic=True)
        return
    for f, v in msg.ListFields():
        if f.type != FD.TYPE_MESSAGE:
            continue
        if f.message_type.GetOptions().map_entry:
            vf = f.message_type.fields_by_name["value"]
            if vf.type == FD.TYPE_MESSAGE:
                items = []
                for k in list(v):
                    c = type(v[k])()
                    c.CopyFrom(v[k])
                    normalize(schema, c)
                    items.append((k, c))
                msg.ClearField(f.name)
                for k, c in items:
                    getattr(msg, f.name)[k].CopyFrom(c)
            else:
                items = dict(v)
                msg.ClearField(f.name)
                getattr(msg, f.name).update(items)
        elif f.label == FD.LABEL_REPEATED:
            for x in v:
                normalize(schema, x)
        else:
            normalize(schema, v)


def ref_print(schema, msg, flags):
    return json_format.MessageToJson(
        msg, indent=None, descriptor_pool=schema.pool,
        including_default_value_fields="defaults" in flags,
        preserving_proto_field_name="proto_names" in flags,
        use_integers_for_enums="enum_ints" in flags)


def ref_parse(schema, text, name="transcode.test.Everything", ignore=False):
    return json_format.Parse(text, schema.cls(name)(), ignore_unknown_fields=ignore,
                             descriptor_pool=schema.pool)


def check_print(tool, schema, msg, flags, wire=None):
    """proto -> JSON on both sides: same verdict, same JSON; and the JSON
    of ours parses (json_format) to the message json_format's parses to."""
    wire = msg.SerializeToString() if wire is None else wire
    ok, out = tool.req("P", wire, *flags)
    try:
        ref = ref_print(schema, msg, flags)
    except Exception as e:  # json_format refuses (bad Timestamp, FieldMask...)
        assert not ok, "json_format refused (%s) but we printed %r" % (e, out)
        return None
    assert ok, "json_format printed %s but we failed: %s" % (ref, out)
    text = out.decode("utf-8")
    same_json(json.loads(text), json.loads(ref))
    try:
        back_ref = ref_parse(schema, ref)
    except Exception:
        back_ref = None
    if back_ref is not None:
        back = ref_parse(schema, text)
        assert canonical(schema, back) == canonical(schema, back_ref)
    return text


def check_parse(tool, schema, text, *flags, name="transcode.test.Everything"):
    """JSON -> proto on both sides: same verdict, same message."""
    ok, out = tool.req("J", text, *flags, *(("type=" + name,) if name else ()))
    try:
        ref = ref_parse(schema, text, name, ignore="ignore_unknown" in flags)
    except Exception as e:
        assert not ok, "json_format refused %r (%s: %s) but we accepted" % (
            text, type(e).__name__, e)
        return None
    assert ok, "json_format accepted %r but we refused: %s" % (text, out)
    ours = schema.cls(name).FromString(out)
    assert canonical(schema, ours) == canonical(schema, ref), "%r:\n ours %s\n ref  %s" % (
        text, ours, ref)
    return ours


# ---------------------------------------------------------------- random messages

F32_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Gen:
    def __init__(self, rng, schema):
        self.r = rng
        self.s = schema

    def double(self):
        r = self.r
        k = r.randrange(12)
        if k == 0:
            return r.choice([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 2.2250738585072014e-308,
                             2.225073858507201e-308, 1.7976931348623157e308, 1e16, 1e15, 1e-4,
                             1e-5, 0.1, 0.3, 0.1 + 0.2, 1e22, 1e23, 2.0 ** 53, 2.0 ** 53 + 2,
                             9007199254740993.0, 123456789012345678.0, 2.0 ** -1074 * 3,
                             2.0 ** 1023, 2.0 ** -1022, 2.0 ** -1000, 2.0 ** 100])
        if k < 4:
            while True:
                v = struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
                if not math.isnan(v):
                    return v
        if k < 7:
            return round(r.uniform(-1e6, 1e6), r.randrange(0, 8))
        if k < 9:
            return float(r.randrange(-2 ** 60, 2 ** 60)) * 10.0 ** r.randrange(-30, 30)
        return r.choice([-1, 1]) * 2.0 ** r.randrange(-1074, 1024)

    def float(self):
        r = self.r
        k = r.randrange(10)
        if k == 0:
            return r.choice([0.0, -0.0, math.nan, math.inf, -math.inf, F32_MAX, -F32_MAX,
                             f32(1.17549435e-38), f32(1e-45), f32(0.1), f32(16777216.0),
                             f32(16777217.0), f32(1e10), f32(3.4e38), f32(1e-7), f32(123456.7)])
        if k < 4:
            while True:
                v = struct.unpack("<f", r.getrandbits(32).to_bytes(4, "little"))[0]
                if not math.isnan(v):
                    return v
        if k < 7:
            return f32(round(r.uniform(-1e5, 1e5), r.randrange(0, 6)))
        return f32(r.choice([-1, 1]) * 2.0 ** r.randrange(-149, 128))

    def int_(self, bits, signed):
        r = self.r
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        k = r.randrange(6)
        if k == 0:
            return r.choice([lo, hi, 0, 1, lo + 1, hi - 1] + ([-1] if signed else []))
        if k == 1:
            return r.randrange(lo, hi + 1)
        return max(lo, min(hi, r.randrange(-300, 3000) * (r.choice([1, 1000, 10 ** 6]))))

    def string(self):
        r = self.r
        n = r.choice([0, 1, 3, 8, 20])
        pools = ["abcXYZ019 _-", "\"\\/\b\f\n\r\t\x00\x01\x1f\x7f", "éüñ中文Ω", "\U0001F600\U0010FFFF\U00010000",
                 "\u2028\u2029\ufeff\uffff\u0800"]
        return "".join(r.choice(r.choice(pools)) for _ in range(n))

    def bytes_(self):
        r = self.r
        n = r.choice([0, 1, 2, 3, 4, 5, 17, 64])
        return bytes(r.randrange(256) for _ in range(n))

    def enum(self, ed):
        r = self.r
        if ed.full_name == "google.protobuf.NullValue":
            return 0
        if r.random() < 0.15:
            return r.choice([7, -5, 1000, 2 ** 31 - 2, -(2 ** 31)])
        return r.choice(ed.values).number

    def scalar(self, f):
        t = f.type
        if t == FD.TYPE_DOUBLE:
            return self.double()
        if t == FD.TYPE_FLOAT:
            return self.float()
        if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
            return self.int_(32, True)
        if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
            return self.int_(64, True)
        if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
            return self.int_(32, False)
        if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
            return self.int_(64, False)
        if t == FD.TYPE_BOOL:
            return self.r.random() < 0.5
        if t == FD.TYPE_STRING:
            return self.string()
        if t == FD.TYPE_BYTES:
            return self.bytes_()
        if t == FD.TYPE_ENUM:
            return self.enum(f.enum_type)
        raise AssertionError(t)

    def json_value(self, depth):
        r = self.r
        k = r.randrange(7 if depth > 0 else 5)
        if k == 0:
            return None
        if k == 1:
            return r.random() < 0.5
        if k == 2:
            v = self.double()
            return v
        if k == 3:
            return self.string()
        if k == 4:
            return float(r.randrange(-1000, 1000))
        if k == 5:
            return [self.json_value(depth - 1) for _ in range(r.randrange(4))]
        return {self.string(): self.json_value(depth - 1) for _ in range(r.randrange(4))}

    def set_value(self, v, js):
        if js is None:
            v.null_value = 0
        elif isinstance(js, bool):
            v.bool_value = js
        elif isinstance(js, float):
            v.number_value = js
        elif isinstance(js, str):
            v.string_value = js
        elif isinstance(js, list):
            v.list_value.SetInParent()
            for x in js:
                self.set_value(v.list_value.values.add(), x)
        else:
            v.struct_value.SetInParent()
            for key, x in js.items():
                self.set_value(v.struct_value.fields[key], x)

    def timestamp(self, m):
        r = self.r
        m.seconds = r.choice([r.randrange(-62135596800, 253402300800), 0, -1, 253402300799,
                              -62135596800, 1700000000])
        m.nanos = r.choice([0, 0, r.randrange(10 ** 9), r.randrange(1000) * 10 ** 6,
                            r.randrange(10 ** 6) * 1000, 999999999])

    def duration(self, m):
        r = self.r
        s = r.choice([0, 1, -1, 315576000000, -315576000000, r.randrange(-10 ** 6, 10 ** 6)])
        n = r.choice([0, r.randrange(10 ** 9), r.randrange(1000) * 10 ** 6, 999999999, 1000])
        if s < 0 or (s == 0 and r.random() < 0.3):
            n = -n
        m.seconds, m.nanos = s, n

    def fill_wkt(self, m, depth):
        """Fill a WKT message; False when m is not one."""
        r = self.r
        name = m.DESCRIPTOR.full_name
        if name == "google.protobuf.Timestamp":
            self.timestamp(m)
        elif name == "google.protobuf.Duration":
            self.duration(m)
        elif name == "google.protobuf.FieldMask":
            m.paths.extend(r.choice(["a", "foo_bar", "foo.bar_baz", "x_y_z.w", "abc", "", "a1"])
                           for _ in range(r.randrange(4)))
        elif name == "google.protobuf.Struct":
            for _ in range(r.randrange(4)):
                self.set_value(m.fields[self.string()], self.json_value(depth))
        elif name == "google.protobuf.Value":
            self.set_value(m, self.json_value(depth))
        elif name == "google.protobuf.ListValue":
            for _ in range(r.randrange(4)):
                self.set_value(m.values.add(), self.json_value(depth))
        elif name == "google.protobuf.Empty":
            pass
        elif name == "google.protobuf.Any":
            inner_name = r.choice(["transcode.test.Nested", "google.protobuf.Timestamp",
                                   "google.protobuf.Duration", "google.protobuf.Struct",
                                   "google.protobuf.Value", "google.protobuf.Int64Value",
                                   "google.protobuf.StringValue", "google.protobuf.Empty",
                                   "google.protobuf.FieldMask", "google.protobuf.ListValue",
                                   "google.protobuf.Any", "transcode.test.Everything"])
            if r.random() < 0.1:
                return True  # empty Any
            inner = self.s.cls(inner_name)()
            if depth > 0:
                self.fill(inner, depth - 1)
            m.Pack(inner)
        elif m.DESCRIPTOR.file.name == "google/protobuf/wrappers.proto":
            if r.random() < 0.8:
                m.value = self.scalar(m.DESCRIPTOR.fields_by_name["value"])
        else:
            return False
        return True

    def fill(self, m, depth):
        r = self.r
        if self.fill_wkt(m, depth):
            return m
        d = m.DESCRIPTOR
        density = r.choice([0.05, 0.15, 0.4])
        oneof_done = set()
        for f in d.fields:
            if r.random() > density:
                continue
            if f.containing_oneof is not None and not f.containing_oneof.name.startswith("_"):
                if f.containing_oneof.name in oneof_done:
                    continue
                oneof_done.add(f.containing_oneof.name)
            if f.type == FD.TYPE_MESSAGE and depth <= 0 and (
                    f.message_type.full_name in ("transcode.test.Everything",) or
                    f.message_type.GetOptions().map_entry and
                    f.message_type.fields_by_name["value"].message_type is not None and
                    f.message_type.fields_by_name["value"].message_type.full_name ==
                    "transcode.test.Everything"):
                continue
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                kf = f.message_type.fields_by_name["key"]
                vf = f.message_type.fields_by_name["value"]
                mp = getattr(m, f.name)
                for _ in range(r.randrange(1, 4)):
                    key = self.scalar(kf)
                    if vf.type == FD.TYPE_MESSAGE:
                        self.fill(mp[key], depth - 1)
                    else:
                        mp[key] = self.scalar(vf)
            elif f.label == FD.LABEL_REPEATED:
                lst = getattr(m, f.name)
                for _ in range(r.randrange(0, 4)):
                    if f.type == FD.TYPE_MESSAGE:
                        self.fill(lst.add(), depth - 1)
                    else:
                        lst.append(self.scalar(f))
            elif f.type == FD.TYPE_MESSAGE:
                sub = getattr(m, f.name)
                sub.SetInParent()
                self.fill(sub, depth - 1)
            else:
                setattr(m, f.name, self.scalar(f))
        return m


def test_random_messages(env):
    tool, schema = env
    rng = random.Random(SEED)
    gen = Gen(rng, schema)
    E = schema.cls("transcode.test.Everything")
    printed = parsed = 0
    for i in range(N_RANDOM):
        m = gen.fill(E(), rng.choice([1, 2, 3]))
        flags = PRINT_FLAGS[i % len(PRINT_FLAGS)] if i % 3 else ()
        try:
            check_print(tool, schema, m, flags)
            if flags:
                check_print(tool, schema, m, ())
            printed += 1
            # json_format's JSON (several spellings) through our parser.
            try:
                ref = ref_print(schema, m, flags)
            except Exception:
                continue
            check_parse(tool, schema, ref)
            parsed += 1
        except AssertionError as e:
            raise AssertionError("case %d (seed %d, flags %s): %s\nmessage: %s" % (
                i, SEED, flags, e, m)) from None
    assert printed >= N_RANDOM * 0.9
    assert parsed >= N_RANDOM * 0.8


# ---------------------------------------------------------------- JSON edge cases

# (JSON text, flags) - both sides must agree on accept/reject and result.
JSON_EDGES = [
    # syntax
    '{}', ' {} ', '{"fInt32": 1}', '{"fInt32": 1,}', '{,}', '{"fInt32" 1}', '', ' ', '[]', '""',
    '"x"', 'null', '1', '{} x', '{}{}', '{"fInt32": 1} // c', '\ufeff{}', '{"fInt32": 01}',
    '{"fInt32": -}', '{"fInt32": 1.}', '{"fInt32": .5}', '{"fInt32": +1}', '{"fString": "\\x"}',
    '{"fString": "\\u12"}', '{"fString": "a\tb"}', '{"fString": "a\x01"}', '{"fString": "\\ud800"}',
    '{"fString": "\\udc00"}', '{"fString": "\\ud83d\\ude00"}', '{"fString": "\\ud83d\\u0041"}',
    '{"fString": "\\/\\b\\f\\n\\r\\t\\"\\\\"}', '{"fString": "\\u0000"}',
    # duplicates and unknown fields
    '{"fInt32": 1, "fInt32": 2}', '{"fInt32": 1, "f_int32": 2}', '{"f_int32": 1, "fInt32": 2}',
    '{"rInt32": [1], "r_int32": [2]}', '{"fInt32": 1, "f_int32": null}',
    '{"fNested": {"a": 1}, "f_nested": {"b": "x"}}', '{"fNull": 5, "f_null": null}',
    '{"fNull": 5, "f_null": "NULL_VALUE"}', '{"wValue": {"a": 1}, "w_value": null}',
    '{"wValue": [1], "w_value": {"b": 2}}', '{"mString": {"a": "1"}, "m_string": null}',
    '{"mString": {"a": "1"}, "m_string": {"b": "2"}}', '{"fNested": {"a": 1}, "f_nested": null}',
    '{"fString": "x", "f_string": null}', '{"fEnum": "RED", "f_enum": null}',
    '{"fInt32": 5, "f_int32": 0}', '{"fString": "x", "f_string": ""}', '{"fDouble": 1, "f_double": -0.0}', '{"colour": 1}', ('{"colour": 1}', "ignore_unknown"),
    ('{"colour": 1, "colour": 2}', "ignore_unknown"), ('{"colour": {"a": 1, "a": 2}}', "ignore_unknown"),
    ('{"colour": [1, {"x": NaN}, "\\ud800"]}', "ignore_unknown"), ('{"[ext.x]": 1}', "ignore_unknown"),
    '{"mString": {"a": "1", "a": "2"}}', '{"wStruct": {"a": 1, "a": 2}}', '{"fInt32": 1, "fInt32": null}',
    '{"fNested": {"a": 1, "a": 1}}', '{"customName": 5}', '{"renamed": 5}', '{"customname": 5}',
    '{"snakeCaseFieldName": "a"}', '{"snake_case_field_name": "a"}', '{"fieldWithDigit2x": 3}',
    '{"field_with_digit_2x": 3}', '{"LeadingUnderscores": "u"}', '{"__leading_underscores": "u"}',
    '{"f\\u0049nt32": 7}',
    # null for every kind
    '{"fInt32": null}', '{"fString": null}', '{"fNested": null}', '{"rInt32": null}',
    '{"mString": null}', '{"fEnum": null}', '{"fNull": null}', '{"oNull": null}', '{"wValue": null}',
    '{"wInt32": null}', '{"wTimestamp": null}', '{"wAny": null}', '{"wStruct": null}',
    '{"wListValue": null}', '{"rInt32": [null]}', '{"rwValue": [null, 1]}', '{"rNested": [null]}',
    '{"mString": {"a": null}}', '{"mStringValue": {"a": null}}', '{"mStringNested": {"a": null}}',
    '{"mStringInt32Wrapper": {"a": null}}', '{"rNull": [null]}', '{"rNull": ["NULL_VALUE", 0]}',
    '{"oInt32": null, "oString": "x"}', '{"oString": "x", "oInt32": null}', '{"fNull": 0}',
    '{"fNull": "NULL_VALUE"}', '{"oNull": "NULL_VALUE"}', '{"wStruct": {"a": null}}',
    '{"wListValue": [null]}', '{"pInt32": null}',
    # integers
    '{"fInt32": "5"}', '{"fInt32": " 5"}', '{"fInt32": "5 "}', '{"fInt32": "\\t5"}', '{"fInt32": "1_0"}',
    '{"fInt32": "+5"}', '{"fInt32": "-0"}', '{"fInt32": "007"}', '{"fInt32": "0x10"}', '{"fInt32": ""}',
    '{"fInt32": 1e2}', '{"fInt32": 1.0}', '{"fInt32": 1.5}', '{"fInt32": "1e2"}', '{"fInt32": "1.0"}',
    '{"fInt32": 2147483647}', '{"fInt32": 2147483648}', '{"fInt32": -2147483648}',
    '{"fInt32": -2147483649}', '{"fInt32": 1e10}', '{"fInt32": -0}', '{"fInt32": -0.0}',
    '{"fInt32": true}', '{"fInt32": [1]}', '{"fInt32": {}}', '{"fInt32": NaN}', '{"fInt32": Infinity}',
    '{"fInt32": 1E+2}', '{"fInt32": 1e-2}', '{"fInt32": 100e-2}',
    '{"fUint32": 4294967295}', '{"fUint32": 4294967296}', '{"fUint32": -1}', '{"fUint32": "-0"}',
    '{"fInt64": 9223372036854775807}', '{"fInt64": "9223372036854775807"}', '{"fInt64": 9223372036854775808}',
    '{"fInt64": -9223372036854775808}', '{"fInt64": "-9223372036854775809"}', '{"fInt64": 9.2e18}',
    '{"fInt64": 9223372036854775807.0}', '{"fInt64": 1e19}', '{"fUint64": 1e19}',
    '{"fUint64": 18446744073709551615}', '{"fUint64": "18446744073709551616"}', '{"fUint64": 1.8446744073709552e19}',
    '{"fInt64": 9007199254740993.0}', '{"fSint32": -5}', '{"fSint64": "-9223372036854775808"}',
    '{"fFixed32": 4294967295}', '{"fFixed64": "18446744073709551615"}', '{"fSfixed32": -2147483648}',
    '{"fSfixed64": "-9223372036854775808"}', '{"fInt32": 123456789012345678901234567890}',
    # floating point
    '{"fDouble": 1}', '{"fDouble": -0}', '{"fDouble": -0.0}', '{"fDouble": "-0"}', '{"fDouble": 1e308}',
    '{"fDouble": 1e309}', '{"fDouble": -1e309}', '{"fDouble": "1e309"}', '{"fDouble": "NaN"}',
    '{"fDouble": "nan"}', '{"fDouble": "NAN"}', '{"fDouble": "-nan"}', '{"fDouble": "Infinity"}',
    '{"fDouble": "-Infinity"}', '{"fDouble": "inf"}', '{"fDouble": "-iNfInItY"}', '{"fDouble": "infinit"}',
    '{"fDouble": NaN}', '{"fDouble": Infinity}', '{"fDouble": -Infinity}', '{"fDouble": " 1.5 "}',
    '{"fDouble": "1_0.5"}', '{"fDouble": "1__0"}', '{"fDouble": "_1"}', '{"fDouble": "1."}',
    '{"fDouble": ".5"}', '{"fDouble": "."}', '{"fDouble": "0x10"}', '{"fDouble": "1e"}', '{"fDouble": "+1.5"}',
    '{"fDouble": true}', '{"fDouble": 4.9e-324}', '{"fDouble": 2.4e-324}', '{"fDouble": 1e-400}',
    '{"fDouble": 0.1}', '{"fDouble": 123456789012345678901234567890}',
    '{"fDouble": 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791}',
    '{"fDouble": 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792}',
    '{"fDouble": 2.2250738585072011e-308}', '{"fDouble": 0.10000000000000000555111512312578270211815834045410156250000000000000000001}',
    '{"fFloat": 3.4028234663852886e38}', '{"fFloat": 3.4028235e38}', '{"fFloat": -3.4028235e38}',
    '{"fFloat": 340282356779733661637539395458142568448}', '{"fFloat": 340282366920938463463374607431768211456}',
    '{"fFloat": "1e39"}', '{"fFloat": "3.4028235e38"}', '{"fFloat": 1e-50}', '{"fFloat": -1e-50}',
    '{"fFloat": 0.1}', '{"fFloat": 16777217}', '{"fFloat": "NaN"}', '{"fFloat": 1e39}',
    # bool
    '{"fBool": true}', '{"fBool": "true"}', '{"fBool": 1}', '{"fBool": null}', '{"mBool": {"true": "a", "false": "b"}}',
    '{"mBool": {"True": "a"}}', '{"mBool": {"1": "a"}}',
    # strings and bytes
    '{"fString": 5}', '{"fString": ""}', '{"fString": "\u00e9\u4e2d\U0001F600"}', '{"fBytes": "AP8="}',
    '{"fBytes": "AP8"}', '{"fBytes": "AP-_"}', '{"fBytes": "AP+/"}', '{"fBytes": "A"}', '{"fBytes": "AB=C"}',
    '{"fBytes": "QQ=A"}', '{"fBytes": "Q Q"}', '{"fBytes": "QUJD===="}', '{"fBytes": "!QUJD"}',
    '{"fBytes": "=QQ"}', '{"fBytes": "Q=Q="}', '{"fBytes": ""}', '{"fBytes": 5}', '{"fBytes": "\u00e9AAA"}',
    '{"fBytes": "QQ\\u003d\\u003d"}', '{"rBytes": ["", "AA==", "_w"]}',
    # enums
    '{"fEnum": "RED"}', '{"fEnum": "red"}', '{"fEnum": "PURPLE"}', '{"fEnum": 2}', '{"fEnum": 7}',
    '{"fEnum": "7"}', '{"fEnum": " 7"}', '{"fEnum": -1}', '{"fEnum": "NEGATIVE"}', '{"fEnum": 2147483648}',
    '{"fEnum": 1.5}', '{"fEnum": true}', '{"fEnum": "1e2"}', '{"fEnum": 1e2}', '{"fEnum": [1]}',
    '{"fAliased": "ALIASED_UNO"}', '{"rEnum": ["RED", 2, "BLUE", 9]}', '{"mStringEnum": {"a": "GREEN", "b": 5}}',
    '{"pEnum": "COLOR_UNSPECIFIED"}',
    # repeated and maps
    '{"rInt32": []}', '{"rInt32": 1}', '{"rInt32": [1, "2", 3.0]}', '{"rString": ["a", 1]}',
    '{"rNested": [{}, {"a": 1}]}', '{"rNested": [1]}', '{"rNested": [[]]}', '{"uInt32": [1, 2]}',
    '{"uEnum": ["RED", 5]}', '{"mInt32": {"1": "a", "-2147483648": "b"}}', '{"mInt32": {"01": "a", "1": "b"}}',
    '{"mInt32": {"x": "a"}}', '{"mInt32": {" 1": "a"}}', '{"mInt32": {"1.0": "a"}}', '{"mInt32": {"2147483648": "a"}}',
    '{"mInt64": {"-9223372036854775808": "5"}}', '{"mUint64": {"18446744073709551615": 1.5}}',
    '{"mUint32": {"-1": 1}}', '{"mSint32": {"-3": 1.5}}', '{"mSint64": {"-3": true}}',
    '{"mFixed32": {"7": "AA=="}}', '{"mFixed64": {"7": "-7"}}', '{"mSfixed32": {"-7": "RED"}}',
    '{"mSfixed64": {"-7": {"a": 1}}}', '{"mString": {"": ""}}', '{"mString": {"\\ud800": "x"}}',
    '{"mString": {"a": 1}}', '{"mString": []}', '{"mStringNested": {"a": {"child": {"a": 1}}}}',
    '{"mStringValue": {"a": [1, {"b": null}]}}', '{"mStringTimestamp": {"a": "1970-01-01T00:00:00Z"}}',
    '{"mStringInt32Wrapper": {"a": 5, "b": "6"}}', '{"mInt32": {"1": "a"}, "m_int32": {"2": "b"}}',
    '{"mStringNested": {"a": []}}', '{"mStringNested": {"a": ""}}',
    # messages given as other JSON types
    '{"fNested": []}', '{"fNested": ""}', '{"fNested": 5}', '{"fNested": "ab"}', '{"fNested": true}',
    '{"fNested": [1]}', ('{"fNested": "xyz"}', "ignore_unknown"), ('{"fNested": "xa"}', "ignore_unknown"),
    ('{"fNested": ["zz", "qq", "zz"]}', "ignore_unknown"), ('{"fNested": ["a"]}', "ignore_unknown"),
    ('{"fNested": ["[x.y]"]}', "ignore_unknown"), ('{"fNested": [1]}', "ignore_unknown"),
    ('{"fNested": ["zz", []]}', "ignore_unknown"), ('["zz"]', "ignore_unknown"), ('"q\u00e9"', "ignore_unknown"),
    ('{"rNested": ["q", "zz"]}', "ignore_unknown"), ('{"mStringNested": {"k": "q"}}', "ignore_unknown"),
    ('{"wEmpty": "abc"}', "ignore_unknown"), ('{"wAny": "abc"}', "ignore_unknown"),
    ('{"colour": 1' + '0' * 4299 + '}', "ignore_unknown"), ('{"colour": 1' + '0' * 4300 + '}', "ignore_unknown"),
    ('{"colour": -1' + '0' * 4300 + '}', "ignore_unknown"), ('{"colour": 1' + '0' * 4300 + '.5}', "ignore_unknown"),
    '{"wEmpty": {}}', '{"wEmpty": []}', '{"wEmpty": {"a": 1}}', ('{"wEmpty": {"a": 1}}', "ignore_unknown"),
    # oneof and optional
    '{"oInt32": 1, "oString": "x"}', '{"oInt32": 0}', '{"oString": ""}', '{"oNested": {}}', '{"oEnum": "COLOR_UNSPECIFIED"}',
    '{"oInt32": 1, "o_int32": 2}', '{"pInt32": 0}', '{"pString": ""}', '{"pDouble": -0.0}', '{"pBool": false}',
    '{"pInt32": 0, "p_int32": 1}',
    # Timestamp
    '{"wTimestamp": "1972-01-01T10:00:20.021-05:00"}', '{"wTimestamp": "1972-01-01T10:00:20.021+05:30"}',
    '{"wTimestamp": "1970-01-01T00:00:00Z"}', '{"wTimestamp": "0001-01-01T00:00:00Z"}',
    '{"wTimestamp": "9999-12-31T23:59:59.999999999Z"}', '{"wTimestamp": "10000-01-01T00:00:00Z"}',
    '{"wTimestamp": "0000-01-01T00:00:00Z"}', '{"wTimestamp": "1970-01-01T00:00:00"}',
    '{"wTimestamp": "1970-01-01t00:00:00Z"}', '{"wTimestamp": "1970-01-01T00:00:00z"}',
    '{"wTimestamp": "1970-1-1T0:0:0Z"}', '{"wTimestamp": "1970-01- 1T00:00:00Z"}', '{"wTimestamp": "1970-02-30T00:00:00Z"}',
    '{"wTimestamp": "1972-02-29T00:00:00Z"}', '{"wTimestamp": "1900-02-29T00:00:00Z"}', '{"wTimestamp": "2000-02-29T00:00:00Z"}',
    '{"wTimestamp": "1970-01-01T24:00:00Z"}', '{"wTimestamp": "1970-01-01T23:60:00Z"}', '{"wTimestamp": "1970-01-01T23:59:60Z"}',
    '{"wTimestamp": "1970-01-01T00:00:00.Z"}', '{"wTimestamp": "1970-01-01T00:00:00.1234567891Z"}',
    '{"wTimestamp": "1970-01-01T00:00:00.5e-1Z"}', '{"wTimestamp": "1970-01-01T00:00:00.1_2Z"}',
    '{"wTimestamp": "1970-01-01T00:00:00.1 Z"}', '{"wTimestamp": "1970-01-01T00:00:00.1e1Z"}',
    '{"wTimestamp": "1970-01-01T00:00:00Zx"}', '{"wTimestamp": "1970-01-01T00:00:00+0100"}',
    '{"wTimestamp": "1970-01-01T00:00:00+01:00"}', '{"wTimestamp": "1970-01-01T00:00:00+99:99"}',
    '{"wTimestamp": "1970-01-01T00:00:00+ 1:00"}', '{"wTimestamp": "1970-01-01T00:00:00-05:-30"}',
    '{"wTimestamp": "0001-01-01T00:00:00+01:00"}', '{"wTimestamp": 0}', '{"wTimestamp": ""}',
    '{"wTimestamp": "1970-01-01T00:00:00.000000001Z"}', '{"rwTimestamp": ["1970-01-01T00:00:00Z", "2024-02-29T12:34:56.789Z"]}',
    # Duration
    '{"wDuration": "1.5s"}', '{"wDuration": "-0.000001s"}', '{"wDuration": "1s"}', '{"wDuration": "1"}',
    '{"wDuration": "s"}', '{"wDuration": ".5s"}', '{"wDuration": "1.s"}', '{"wDuration": "-1.5s"}',
    '{"wDuration": "315576000000s"}', '{"wDuration": "315576000001s"}', '{"wDuration": "-315576000000.999999999s"}',
    '{"wDuration": "1.0000000001s"}', '{"wDuration": "1.9999999999s"}', '{"wDuration": " 1.5s"}',
    '{"wDuration": "1.5 s"}', '{"wDuration": "+1.5s"}', '{"wDuration": "1.5e3s"}', '{"wDuration": "1_0s"}',
    '{"wDuration": "-0s"}', '{"wDuration": "0.000000001s"}', '{"wDuration": 1.5}', '{"wDuration": "1.5S"}',
    # FieldMask
    '{"wFieldMask": "fooBar,baz.quxQuux"}', '{"wFieldMask": ""}', '{"wFieldMask": "a,,b"}',
    '{"wFieldMask": "foo_bar"}', '{"wFieldMask": "FooBar"}', '{"wFieldMask": 5}', '{"wFieldMask": "a.b,c"}',
    # Struct / Value / ListValue
    '{"wStruct": {}}', '{"wStruct": {"a": {"b": [1, "x", null, true, {"c": []}]}}}', '{"wStruct": []}',
    '{"wStruct": 5}', '{"wValue": 1}', '{"wValue": -0}', '{"wValue": -0.0}', '{"wValue": "s"}', '{"wValue": true}',
    '{"wValue": []}', '{"wValue": {}}', '{"wValue": [[[]]]}', '{"wValue": NaN}', '{"wValue": Infinity}',
    '{"wValue": 1e400}', '{"wValue": 123456789012345678901234567890}', '{"wValue": "\\ud800"}',
    '{"wListValue": [1, [2, [3]], {"a": 4}]}', '{"wListValue": {}}', '{"wListValue": 1}',
    '{"rwValue": [1, "a", null, [], {}]}', '{"rwStruct": [{}, {"a": 1}]}', '{"rwListValue": [[], [1]]}',
    '{"wStruct": {"\\u0061": 1, "a": 2}}', '{"wStruct": {"\\ud800": 1}}', '{"wValue": {"a": 1, "a": 1}}',
    # wrappers
    '{"wInt32": 5}', '{"wInt32": "5"}', '{"wInt32": 0}', '{"wInt64": "9223372036854775807"}', '{"wUint64": 1e19}',
    '{"wDouble": "NaN"}', '{"wFloat": 3.5e38}', '{"wBool": false}', '{"wBool": "false"}', '{"wString": ""}',
    '{"wString": 5}', '{"wBytes": "AP8="}', '{"wUint32": -1}', '{"rwInt64": ["1", 2]}', '{"rwString": ["a", null]}',
    '{"rwBytes": ["AA=="]}', '{"rwFloat": [0.1, "NaN"]}',
    # Any
    '{"wAny": {}}', '{"wAny": {"@type": "type.googleapis.com/transcode.test.Nested", "a": 1, "b": "x"}}',
    '{"wAny": {"a": 1, "@type": "type.googleapis.com/transcode.test.Nested"}}',
    '{"wAny": {"@type": "type.googleapis.com/transcode.test.Nested", "zz": 1}}',
    ('{"wAny": {"@type": "type.googleapis.com/transcode.test.Nested", "zz": 1}}', "ignore_unknown"),
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.5s"}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.5s", "x": 1}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Duration"}}',
    '{"wAny": {"value": "1.5s", "@type": "type.googleapis.com/google.protobuf.Duration"}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "1970-01-01T00:00:00Z"}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": 5}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": null}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Value", "value": null}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Struct", "value": {"a": [1]}}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.ListValue", "value": [1, {}]}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.FieldMask", "value": "a.bC"}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Empty"}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Empty", "value": {}}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Any", "value": {"@type": "type.googleapis.com/transcode.test.Nested", "a": 2}}}',
    '{"wAny": {"@type": "type.googleapis.com/google.protobuf.Any", "value": {}}}',
    '{"wAny": {"@type": "transcode.test.Nested"}}', '{"wAny": {"@type": "x/y/transcode.test.Nested"}}',
    '{"wAny": {"@type": "type.googleapis.com/no.such.Type"}}', '{"wAny": {"@type": 5}}', '{"wAny": {"a": 1}}',
    '{"wAny": {"@type": "type.googleapis.com/transcode.test.Nested", "@type": "type.googleapis.com/transcode.test.Nested"}}',
    '{"wAny": {"@type": "type.googleapis.com/transcode.test.Everything", "fInt32": 1, "wAny": {"@type": "type.googleapis.com/transcode.test.Nested", "a": 3}}}',
    '{"wAny": []}', '{"wAny": "x"}', '{"rwAny": [{}, {"@type": "type.googleapis.com/google.protobuf.Int64Value", "value": "5"}]}',
    '{"wAny": {"\\u0040type": "type.googleapis.com/transcode.test.Nested", "a": 1}}',
    # nesting
    '{"recursive": {"recursive": {"fInt32": 1}}}', '{"rRecursive": [{"rRecursive": [{}]}]}',
    '{"fMaxNumber": 5}', '{"f_max_number": -5}',
]


def test_json_edges(env):
    tool, schema = env
    for case in JSON_EDGES:
        text, flags = (case, ()) if isinstance(case, str) else (case[0], case[1:])
        try:
            check_parse(tool, schema, text, *flags)
        except AssertionError as e:
            raise AssertionError("%r %s: %s" % (text, flags, e)) from None


def nest(n, inner="{}"):
    s = inner
    for _ in range(n - 1):
        s = '{"recursive":' + s + "}"
    return s


def test_depth_limit(env):
    tool, schema = env
    # json_format counts each message; the top one is 1, at most 100.
    for n in (99, 100, 101, 150):
        check_parse(tool, schema, nest(n))
    for n in (49, 50, 51):
        text = "{}"
        for _ in range(n - 1):
            text = '{"rRecursive":[' + text + "]}"
        check_parse(tool, schema, text)
    ok, out = tool.req("J", "[" * 100000)
    assert not ok
    ok, out = tool.req("J", '{"wValue":' + "[" * 5000 + "]" * 5000 + "}")
    assert not ok  # our JSON nesting limit; json_format goes on to ~1000


def test_error_paths(env):
    tool, schema = env
    cases = [
        ('{"fNested": {"child": {"a": "x"}}}', "fNested.child.a"),
        ('{"rNested": [{}, {"a": 1.5}]}', "rNested[1].a"),
        ('{"mStringNested": {"k": {"b": 1}}}', 'mStringNested["k"].b'),
        ('{"fInt32": 2147483648}', "fInt32"),
        ('{"colour": 1}', "colour"),
        ('{"wStruct": {"a": [1, "\\ud800"]}}', 'wStruct["a"][1]'),
    ]
    for text, path in cases:
        ok, out = tool.req("J", text)
        assert not ok and out.startswith("ERR " + path + ":"), (text, out)


# ---------------------------------------------------------------- wire edge cases


def tag(num, wire):
    return varint(num << 3 | wire)


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def ld(num, payload):
    return tag(num, 2) + varint(len(payload)) + payload


WIRE_EDGES = [
    b"",
    tag(5, 0) + varint(1) + tag(5, 0) + varint(2),  # last one wins
    tag(5, 0) + varint(1) + tag(3, 0) + varint(7) + tag(5, 0) + varint(2),  # out of order
    tag(25, 0) + varint(1) + tag(5, 0) + varint(9) + tag(25, 0) + varint(2),  # split repeated
    ld(25, varint(1) + varint(2)) + tag(25, 0) + varint(3) + ld(25, b""),  # packed + unpacked
    ld(25, b""),  # empty packed: absent
    ld(29, b"a") + tag(5, 0) + varint(1) + ld(29, b"b"),
    ld(17, tag(1, 0) + varint(1)) + ld(17, ld(2, b"x")),  # merged message
    ld(17, tag(1, 0) + varint(1)) + tag(5, 0) + varint(3) + ld(17, tag(1, 0) + varint(2) + ld(4, varint(5))),
    ld(17, ld(3, tag(1, 0) + varint(1))) + ld(17, ld(3, ld(2, b"deep"))),  # merge two levels
    tag(81, 0) + varint(5) + ld(82, b"s"),  # oneof: last member wins
    ld(83, tag(1, 0) + varint(1)) + tag(81, 0) + varint(5) + ld(83, ld(2, b"x")),  # oneof cleared
    ld(83, tag(1, 0) + varint(1)) + ld(83, ld(2, b"x")),  # oneof member merged
    tag(85, 0) + varint(0),
    tag(5, 2) + varint(1) + b"\x01",  # wrong wire type: unknown
    tag(9, 0) + varint(1),  # string as varint: unknown
    tag(999, 0) + varint(1) + tag(5, 0) + varint(1),  # unknown field
    tag(999, 3) + tag(1, 0) + varint(1) + tag(999, 4) + tag(5, 0) + varint(1),  # unknown group
    tag(5, 0) + varint(2 ** 64 - 1),  # int32 from a 64-bit varint
    tag(5, 0) + varint(2 ** 32 + 5),
    tag(8, 0) + varint(2),  # bool 2
    tag(16, 0) + varint(2 ** 64 - 1),  # enum -1
    tag(14, 0) + varint(2 ** 40 + 3),  # sint32 truncation
    tag(1, 1) + struct.pack("<d", -0.0),
    tag(2, 5) + struct.pack("<f", -0.0),
    tag(1, 1) + struct.pack("<Q", 0x7FF0000000000001),  # a NaN payload
    tag(5, 0) + varint(0),  # explicit default: not printed
    ld(9, b""),
    tag(91, 0) + varint(0),  # optional: printed
    ld(72, ld(1, b"k") + ld(2, b"v1")) + ld(72, ld(1, b"k") + ld(2, b"v2")),  # map: last key wins
    ld(72, ld(2, b"v") + ld(1, b"k")),  # value before key
    ld(72, ld(1, b"k")),  # no value
    ld(72, ld(2, b"v")),  # no key
    ld(72, b""),
    ld(73, ld(1, b"k") + ld(2, tag(1, 0) + varint(1)) + ld(2, ld(2, b"x"))),  # entry value merged
    ld(61, tag(1, 0) + varint(2 ** 32 + 7) + ld(2, b"x")),  # int32 key truncated
    ld(61, tag(1, 0) + varint(7) + ld(2, b"x")) + ld(61, tag(1, 0) + varint(2 ** 32 + 7) + ld(2, b"y")),
    ld(71, tag(1, 0) + varint(5) + ld(2, b"x")),  # bool key 5
    ld(75, ld(1, b"a") + ld(2, tag(2, 1) + struct.pack("<d", 1.5) + ld(3, b"s"))),  # Value: last kind
    ld(125, ld(5, ld(1, ld(1, b"a") + ld(2, tag(4, 0) + varint(1)))) + ld(5, ld(1, ld(1, b"b") + ld(2, b"")))),
    ld(125, ld(6, ld(1, b"")) + ld(6, ld(1, tag(4, 0) + varint(1)))),  # ListValue merged
    ld(125, b""),  # empty Value: null
    ld(121, tag(1, 0) + varint(1) + tag(2, 0) + varint(2 ** 64 - 1)),  # nanos -1
    ld(121, tag(2, 0) + varint(2 * 10 ** 9)),  # nanos carried into seconds
    ld(121, tag(1, 0) + varint(253402300800)),  # year 10000
    ld(121, tag(1, 0) + varint(-62135596801)),  # year 0
    ld(122, tag(1, 0) + varint(-1) + tag(2, 0) + varint(5)),  # sign mismatch
    ld(122, tag(1, 0) + varint(315576000001)),
    ld(122, tag(2, 0) + varint(-(10 ** 9))),
    ld(123, ld(1, b"a_b") + ld(1, b"c_d.e_f")),
    ld(123, ld(1, b"a_1")),
    ld(123, ld(1, b"aB")),
    ld(123, ld(1, b"a_")),
    ld(123, ld(1, b'q"\\')),
    ld(120, ld(1, b"type.googleapis.com/transcode.test.Nested") + ld(2, tag(1, 0) + varint(3))),
    ld(120, ld(1, b"type.googleapis.com/no.Such")),
    ld(120, ld(2, b"\x08\x01")),  # value without a type
    ld(120, ld(1, b"") + ld(2, b"")),
    ld(120, ld(1, b"type.googleapis.com/google.protobuf.Int32Value") + ld(2, b"")),
    ld(120, ld(1, b"type.googleapis.com/google.protobuf.Value") + ld(2, b"")),
    ld(120, ld(1, b"x/transcode.test.Nested") + ld(2, b"\xff")),  # bad payload
    ld(9, b"\xff"),  # invalid UTF-8
    ld(9, b"\xed\xa0\x80"),  # UTF-8 surrogate
    ld(9, b"ok\xc0\x80"),  # overlong
    ld(10, bytes(range(256))),
    tag(5, 0) + b"\x80",  # truncated varint
    tag(5, 0) + b"\x80" * 10 + b"\x01",  # 11-byte varint
    ld(9, b"abc")[:-1],  # truncated string
    tag(0, 0) + varint(1),  # field 0
    tag(5, 6),  # bad wire type
    tag(5, 4),  # unmatched end group
    ld(25, b"\x80"),  # truncated packed varint
    ld(27, b"\x01\x02\x03"),  # packed fixed32 of 3 bytes
    ld(36, varint(1) + varint(99) + varint(2 ** 64 - 1)),  # packed enums, unknown numbers
    tag(536870911, 0) + varint(5),
    ld(110, ld(110, ld(110, tag(5, 0) + varint(1)))),
    ld(140, ld(1, b"type.googleapis.com/google.protobuf.Duration") + ld(2, tag(1, 0) + varint(5))) +
    ld(140, b""),
]


def test_wire_edges(env):
    tool, schema = env
    E = schema.cls("transcode.test.Everything")
    for wire in WIRE_EDGES:
        try:
            with warnings.catch_warnings():  # "Unexpected end-group tag": parsed anyway
                warnings.simplefilter("ignore", RuntimeWarning)
                msg = E.FromString(wire)
        except Exception:
            ok, out = tool.req("P", wire)
            assert not ok, "json_format cannot parse %r but we printed %r" % (wire, out)
            continue
        for flags in PRINT_FLAGS:
            try:
                check_print(tool, schema, msg, flags, wire=wire)
            except AssertionError as e:
                raise AssertionError("%r %s: %s" % (wire, flags, e)) from None


def test_deep_wire(env):
    """protobuf's parser takes 100 levels below the top message, map
    entries and Struct internals included (an Any's payload starts again);
    json_format prints whatever it parsed."""
    tool, schema = env
    E = schema.cls("transcode.test.Everything")

    def deep(n, inner, wrap):
        wire = inner
        for _ in range(n):
            wire = wrap(wire)
        return wire

    cases = []
    for n in (99, 100, 101):  # message fields: a level each
        cases.append(deep(n, tag(5, 0) + varint(1), lambda w: ld(110, w)))
    for n in (49, 50, 51):  # map<string, Everything>: entry and value
        cases.append(deep(n, tag(5, 0) + varint(1), lambda w: ld(79, ld(1, b"k") + ld(2, w))))
    for n in (32, 33, 34):  # Value > Struct > entry > Value ...
        cases.append(ld(125, deep(n, tag(4, 0) + varint(1),
                                  lambda w: ld(5, ld(1, ld(1, b"a") + ld(2, w))))))
    any_deep = deep(50, tag(5, 0) + varint(1), lambda w: ld(110, w))
    any_deep = ld(120, ld(1, b"type.googleapis.com/transcode.test.Everything") + ld(2, any_deep))
    cases.append(deep(55, any_deep, lambda w: ld(110, w)))  # the payload starts again
    for wire in cases:
        try:
            msg = E.FromString(wire)
        except Exception:
            ok, out = tool.req("P", wire)
            assert not ok, "json_format cannot parse it but we printed it"
            continue
        check_print(tool, schema, msg, (), wire=wire)


def test_text_setters(env):
    tool, schema = env
    E = schema.cls("transcode.test.Everything")
    cases = [("f_int32", "-5", E(f_int32=-5)), ("f_nested.a", "7", None), ("f_bool", "t", E(f_bool=True)),
             ("f_enum", "BLUE", E(f_enum=3)), ("f_enum", "2", E(f_enum=2)), ("f_bytes", "AP-_", E(f_bytes=b"\x00\xff\xbf")),
             ("r_int32", "4", E(r_int32=[4])), ("w_int32", "9", None), ("w_timestamp", "1970-01-01T00:00:01Z", None),
             ("f_string", "héllo", E(f_string="héllo")), ("f_double", "NaN", None), ("f_uint64", "18446744073709551615", E(f_uint64=2 ** 64 - 1))]
    for path, value, want in cases:
        ok, out = tool.req("T", path, base64.b64encode(value.encode()).decode() or "-")
        assert ok, (path, value, out)
        got = E.FromString(out)
        if want is not None:
            assert got == want, (path, value, got)
    for path, value in [("f_int32", "x"), ("nope", "1"), ("f_nested", "1"), ("r_nested", "1"),
                        ("m_string", "a"), ("f_int32", "2147483648")]:
        ok, out = tool.req("T", path, base64.b64encode(value.encode()).decode() or "-")
        assert not ok, (path, value, out)
