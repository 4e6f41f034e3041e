using Google.Protobuf;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using Disc = KmeshCompiler.Frontends.Xds.Wire.Discovery;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>A binary snapshot: a stream of responses, each a varint length followed by that many bytes
/// (protobuf's delimited format). Every length is checked against the bytes that remain before
/// anything is parsed or allocated, so a lying prefix costs nothing. A framing or parse error stops
/// the stream there (nothing after it can be trusted); what came before is kept.</summary>
internal static class BinarySnapshot
{
    /// <summary>Reads with <see cref="DirectDecoder"/>; <paramref name="reference"/> uses the
    /// generated Google.Protobuf parsers instead (slower; kept as the tests' reference).</summary>
    public static void Read(SourceText src, ResourceReader reader, DiagnosticBag bag, bool reference = false)
    {
        var bytes = src.Bytes;
        int pos = 0;
        int index = 0;
        while (pos < bytes.Length)
        {
            index++;
            int start = pos;
            SourceLocation At() => new(src.DisplayPath, 0, 0, $"response {index} at byte {start}");
            if (!TryReadVarint(bytes, pos, out ulong size, out int used))
            {
                bag.Report(Codes.XdsBadFrame, At(), "the length prefix is cut short or longer than 10 bytes");
                return;
            }
            long remaining = bytes.Length - pos - used;
            if (size > (ulong)remaining)
            {
                bag.Report(Codes.XdsBadFrame, At(), $"the length prefix says {size} bytes but only {remaining} remain");
                return;
            }
            var msg = new ReadOnlySpan<byte>(bytes, pos + used, (int)size);
            pos += used + (int)size;
            if (size == 0) continue; // an empty response changes nothing
            bool sotw = IsStateOfTheWorld(msg);
            if (!reference)
            {
                Envelope env;
                try
                {
                    env = Envelope.Parse(msg, sotw);
                }
                catch (WireException e)
                {
                    bag.Report(Codes.XdsBadResponse, At(), e.Message);
                    return;
                }
                env.Apply(msg, sotw, index, reader, At(), bag);
                continue;
            }
            try
            {
                if (sotw) Apply(Disc.DiscoveryResponse.Parser.ParseFrom(msg), index, reader);
                else Apply(Disc.DeltaDiscoveryResponse.Parser.ParseFrom(msg), index, reader, At(), bag);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidOperationException)
            {
                bag.Report(Codes.XdsBadResponse, At(), e.Message);
                return;
            }
        }
    }

    internal static void Apply(Disc.DeltaDiscoveryResponse r, int index, ResourceReader reader, SourceLocation at, DiagnosticBag bag)
    {
        for (int i = 0; i < r.Resources.Count; i++)
        {
            var res = r.Resources[i];
            string name = res.Name.Length > 0 ? res.Name : ResourceReader.Position(index, i);
            if (res.Resource_ is null) { reader.Unknown("", name); continue; }
            reader.Add(res.Resource_.TypeUrl, res.Resource_.Value, name);
        }
        var type = TypeUrls.Classify(r.TypeUrl);
        foreach (var name in r.RemovedResources) reader.State.Remove(type, name, at, bag);
    }

    internal static void Apply(Disc.DiscoveryResponse r, int index, ResourceReader reader)
    {
        reader.State.Reset(TypeUrls.Classify(r.TypeUrl));
        for (int i = 0; i < r.Resources.Count; i++)
            reader.Add(r.Resources[i].TypeUrl, r.Resources[i].Value, ResourceReader.Position(index, i));
    }

    /// <summary>Both responses put their resources in field 2, so the shape of the message tells them
    /// apart: field 6 (removed_resources) means Delta, field 3 (canary) means state of the world;
    /// otherwise the first entry of field 2 decides: a Resource carries fields 3/4/6/7 (name, aliases,
    /// ttl, cache_control) or a field 1 that is a version, while an Any has only fields 1 and 2 and
    /// its field 1 is a type URL ("…/pkg.Message"). Without resources, Delta.</summary>
    internal static bool IsStateOfTheWorld(ReadOnlySpan<byte> msg)
    {
        var top = new FieldScanner(msg);
        ReadOnlySpan<byte> first = default;
        bool haveFirst = false;
        while (top.Next(out int field, out int wire, out var payload))
        {
            if (field == 6) return false;
            if (field == 3 && wire == 0) return true;
            if (field == 2 && wire == 2 && !haveFirst) { first = payload; haveFirst = true; }
        }
        if (!haveFirst) return false;
        var entry = new FieldScanner(first);
        bool typeUrl = false;
        while (entry.Next(out int field, out int wire, out var payload))
        {
            if (field is not (1 or 2)) return false;
            if (field == 1 && wire == 2) typeUrl = LooksLikeTypeUrl(payload);
        }
        return typeUrl;
    }

    private static bool LooksLikeTypeUrl(ReadOnlySpan<byte> s)
    {
        int slash = s.LastIndexOf((byte)'/');
        if (slash < 0 || slash == s.Length - 1) return false;
        var name = s[(slash + 1)..];
        if (name.IndexOf((byte)'.') < 0) return false;
        foreach (var c in name)
            if (!(c is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9') or (byte)'_' or (byte)'.'))
                return false;
        return true;
    }

    internal static bool TryReadVarint(ReadOnlySpan<byte> b, int pos, out ulong value, out int used)
    {
        value = 0;
        used = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (pos + used >= b.Length) return false;
            byte x = b[pos + used++];
            value |= (ulong)(x & 0x7F) << shift;
            if ((x & 0x80) == 0) return true;
        }
        return false;
    }

    /// <summary>Walks the top-level fields of a message without decoding them. Stops (returns false)
    /// at the end or at anything malformed; the real parser reports the error afterwards.</summary>
    private ref struct FieldScanner(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public bool Next(out int field, out int wire, out ReadOnlySpan<byte> payload)
        {
            field = 0; wire = 0; payload = default;
            if (_pos >= _data.Length || !TryReadVarint(_data, _pos, out ulong tag, out int used)) return false;
            _pos += used;
            field = (int)Math.Min(tag >> 3, int.MaxValue);
            wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    if (!TryReadVarint(_data, _pos, out _, out used)) return false;
                    _pos += used;
                    return true;
                case 1: return Skip(8);
                case 5: return Skip(4);
                case 2:
                    if (!TryReadVarint(_data, _pos, out ulong len, out used)) return false;
                    _pos += used;
                    if (len > (ulong)(_data.Length - _pos)) return false;
                    payload = _data.Slice(_pos, (int)len);
                    _pos += (int)len;
                    return true;
                default: return false;
            }
        }

        private bool Skip(int n)
        {
            if (_data.Length - _pos < n) return false;
            _pos += n;
            return true;
        }
    }

    /// <summary>One response's envelope, read and checked whole before any resource is applied (as a
    /// parser would refuse the whole message): resources as (name, type URL, value range), removals.</summary>
    private sealed class Envelope
    {
        private readonly List<(string Name, string TypeUrl, Range Value, bool HasAny)> _resources = [];
        private readonly List<string> _removed = [];
        private string _typeUrl = "";

        public static Envelope Parse(ReadOnlySpan<byte> msg, bool sotw)
        {
            var env = new Envelope();
            var r = new WireReader(msg);
            while (r.Next(out int f, out int wire))
            {
                switch (f, wire)
                {
                    case (4, 2): env._typeUrl = r.String(); break;
                    case (6, 2) when !sotw: env._removed.Add(r.String()); break;
                    case (2, 2) when sotw:
                        {
                            var any = r.Bytes();
                            string typeUrl = "";
                            Range value = default;
                            ReadAny(any, Offset(msg, any), ref typeUrl, ref value);
                            env._resources.Add(("", typeUrl, value, true));
                            break;
                        }
                    case (2, 2):
                        {
                            var res = r.Bytes();
                            int resAt = Offset(msg, res);
                            var rr = new WireReader(res);
                            string name = "", typeUrl = "";
                            Range value = default;
                            bool hasAny = false;
                            while (rr.Next(out int rf, out int rw))
                            {
                                switch (rf, rw)
                                {
                                    case (3, 2): name = rr.String(); break;
                                    case (2, 2):
                                        {
                                            var any = rr.Bytes();
                                            hasAny = true;
                                            ReadAny(any, resAt + Offset(res, any), ref typeUrl, ref value);
                                            break;
                                        }
                                    case (6, 2) or (7, 2): WireReader.Validate(rr.Bytes(), Schema.Scalars); break;
                                    default: rr.Skip(rf, rw); break;
                                }
                            }
                            env._resources.Add((name, typeUrl, value, hasAny));
                            break;
                        }
                    default: r.Skip(f, wire); break;
                }
            }
            return env;
        }

        /// <summary>An Any seen again merges: each of its fields keeps the last value given.</summary>
        private static void ReadAny(ReadOnlySpan<byte> any, int anyAt, ref string typeUrl, ref Range value)
        {
            var a = new WireReader(any);
            while (a.Next(out int f, out int wire))
            {
                if (f == 1 && wire == 2) typeUrl = a.String();
                else if (f == 2 && wire == 2)
                {
                    int len = a.Bytes().Length;
                    value = new Range(anyAt + a.Position - len, anyAt + a.Position);
                }
                else a.Skip(f, wire);
            }
        }

        private static int Offset(ReadOnlySpan<byte> whole, ReadOnlySpan<byte> part) =>
            part.IsEmpty ? 0 : (int)System.Runtime.CompilerServices.Unsafe.ByteOffset(
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(whole),
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(part));

        public void Apply(ReadOnlySpan<byte> msg, bool sotw, int index, ResourceReader reader, SourceLocation at, DiagnosticBag bag)
        {
            if (sotw) reader.State.Reset(TypeUrls.Classify(_typeUrl));
            for (int i = 0; i < _resources.Count; i++)
            {
                var (name, typeUrl, value, hasAny) = _resources[i];
                bool byPosition = name.Length == 0;
                if (byPosition) name = ResourceReader.Position(index, i);
                if (!hasAny) { reader.Unknown("", name); continue; }
                reader.AddDirect(typeUrl, msg[value], name, byPosition);
            }
            var type = TypeUrls.Classify(_typeUrl);
            foreach (var name in _removed) reader.State.Remove(type, name, at, bag);
        }
    }
}
