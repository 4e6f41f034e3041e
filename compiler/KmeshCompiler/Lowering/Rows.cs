using System.Runtime.InteropServices;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

/// <summary>Encodes and decodes table rows through the mirrored structs, so the bytes are exactly
/// what the programs read (host byte order for integers, network order for addresses).</summary>
public static unsafe class Rows
{
    public static byte[] Bytes<T>(T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref value, 1)).ToArray();

    public static T Read<T>(ReadOnlySpan<byte> bytes) where T : unmanaged =>
        bytes.Length == sizeof(T) ? MemoryMarshal.Read<T>(bytes) : throw new ArgumentException($"{typeof(T).Name} has {sizeof(T)} bytes, not {bytes.Length}");

    public static byte[] U32(uint v) => Bytes(v);

    public static uint U32(ReadOnlySpan<byte> b) => Read<uint>(b);

    /// <summary>16 bytes in network order; IPv4 in the first four.</summary>
    public static void PutAddress(byte* dst, IpAddr a)
    {
        var span = new Span<byte>(dst, 16);
        if (a.IsV6) System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(span, a.Value);
        else
        {
            span.Clear();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span, (uint)a.Value);
        }
    }

    public static IpAddr GetAddress(byte* src, uint v6) =>
        IpAddr.FromBytes(new ReadOnlySpan<byte>(src, v6 != 0 ? 16 : 4));

    public static KmeshIpKey IpKey(IpAddr a)
    {
        var k = new KmeshIpKey { V6 = a.IsV6 ? 1u : 0u };
        PutAddress(k.Addr, a);
        return k;
    }

    public static IpAddr Address(in KmeshIpKey k)
    {
        fixed (byte* p = k.Addr) return GetAddress(p, k.V6);
    }

    public static KmeshAddrSetKey AddrSetKey(uint setId, IpPrefix p)
    {
        var k = new KmeshAddrSetKey { Prefixlen = 32 + (uint)p.Length, SetFam = Layout.SetFam(setId, p.Address.IsV6) };
        PutAddress(k.Addr, p.Network);
        return k;
    }

    public static (uint SetId, IpPrefix Prefix) Prefix(in KmeshAddrSetKey k)
    {
        uint v6 = k.SetFam & 1;
        fixed (byte* p = k.Addr) return (k.SetFam >> 1, new IpPrefix(GetAddress(p, v6), (int)k.Prefixlen - 32));
    }

    public static KmeshSvcKey SvcKey(IpAddr a, uint port)
    {
        var k = new KmeshSvcKey { V6 = a.IsV6 ? 1u : 0u, Port = port };
        PutAddress(k.Addr, a);
        return k;
    }

    public static (IpAddr Address, uint Port) Svc(in KmeshSvcKey k)
    {
        fixed (byte* p = k.Addr) return (GetAddress(p, k.V6), k.Port);
    }

    public static KmeshBackend Backend(IpAddr a, uint port)
    {
        var b = new KmeshBackend { V6 = a.IsV6 ? 1u : 0u, Port = port };
        PutAddress(b.Addr, a);
        return b;
    }

    public static (IpAddr Address, uint Port) Backend(in KmeshBackend b)
    {
        fixed (byte* p = b.Addr) return (GetAddress(p, b.V6), b.Port);
    }

    public static uint[] Counts(in KmeshService s)
    {
        var r = new uint[Layout.Priorities];
        fixed (uint* c = s.Counts) for (int i = 0; i < r.Length; i++) r[i] = c[i];
        return r;
    }

    public static KmeshService Service(uint id, uint mode, uint[] counts)
    {
        var s = new KmeshService { ServiceId = id, Mode = mode };
        for (int i = 0; i < Layout.Priorities; i++) s.Counts[i] = counts[i];
        return s;
    }
}
