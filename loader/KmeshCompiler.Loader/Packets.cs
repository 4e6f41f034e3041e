using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KmeshCompiler.Loader;

/// <summary>Builds Ethernet frames for BPF_PROG_TEST_RUN: TCP segments over IPv4 (optionally with IP
/// options) or IPv6 (optionally behind extension headers), with valid checksums.</summary>
public static class Packets
{
    public const byte TcpFin = 0x01, TcpSyn = 0x02, TcpRst = 0x04, TcpAck = 0x10;

    /// <summary>IPv6 next-header values of the extension headers.</summary>
    public const byte HopByHop = 0, Routing = 43, Fragment = 44, DestOptions = 60, NoNext = 59;

    public static byte[] Syn(IPAddress src, IPAddress dst, ushort dstPort, ushort srcPort = 40000) =>
        Tcp(src, dst, srcPort, dstPort, TcpSyn);

    /// <summary>A TCP segment. <paramref name="ipv4OptionWords"/> adds NOP options to the IPv4 header
    /// (0..10 words); <paramref name="ipv6Extensions"/> chains IPv6 extension headers (each 8 bytes,
    /// a fragment header as the first fragment) before TCP.</summary>
    public static byte[] Tcp(IPAddress src, IPAddress dst, ushort srcPort, ushort dstPort, byte flags,
        int ipv4OptionWords = 0, byte[]? ipv6Extensions = null, byte protocolOverride = 6)
    {
        if (src.AddressFamily != dst.AddressFamily) throw new ArgumentException("source and destination families differ");
        bool v6 = dst.AddressFamily == AddressFamily.InterNetworkV6;
        var tcp = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(0), srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 0x1000);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 64240);
        byte[] s = src.GetAddressBytes(), d = dst.GetAddressBytes();

        var frame = new List<byte>();
        frame.AddRange(new byte[] { 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1 });
        if (!v6)
        {
            frame.AddRange(new byte[] { 0x08, 0x00 });
            int ihl = 5 + ipv4OptionWords;
            var ip = new byte[ihl * 4];
            ip[0] = (byte)(0x40 | ihl);
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)(ip.Length + tcp.Length));
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = protocolOverride;
            s.CopyTo(ip, 12);
            d.CopyTo(ip, 16);
            for (int i = 20; i < ip.Length; i++) ip[i] = 1; // NOP options
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), Checksum(ip));
            TcpChecksum(tcp, s, d, protocolOverride);
            frame.AddRange(ip);
        }
        else
        {
            frame.AddRange(new byte[] { 0x86, 0xdd });
            var ext = ipv6Extensions ?? [];
            var ip = new byte[40];
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(ext.Length * 8 + tcp.Length));
            ip[6] = ext.Length > 0 ? ext[0] : protocolOverride;
            ip[7] = 64;
            s.CopyTo(ip, 8);
            d.CopyTo(ip, 24);
            frame.AddRange(ip);
            for (int i = 0; i < ext.Length; i++)
            {
                var h = new byte[8];
                h[0] = i + 1 < ext.Length ? ext[i + 1] : protocolOverride;
                h[1] = 0; // length in 8-byte units, not counting the first 8
                if (ext[i] == Fragment) { h[1] = 0; h[2] = 0; h[3] = 0; } // offset 0, last fragment: a whole datagram
                else { h[2] = 1; h[3] = 4; } // a PadN option filling the header
                frame.AddRange(h);
            }
            TcpChecksum(tcp, s, d, protocolOverride);
        }
        frame.AddRange(tcp);
        return frame.ToArray();
    }

    private static void TcpChecksum(byte[] tcp, byte[] s, byte[] d, byte proto)
    {
        var pseudo = new List<byte>();
        pseudo.AddRange(s);
        pseudo.AddRange(d);
        if (s.Length == 4) pseudo.AddRange(new byte[] { 0, proto, 0, (byte)tcp.Length });
        else pseudo.AddRange(new byte[] { 0, 0, 0, (byte)tcp.Length, 0, 0, 0, proto });
        pseudo.AddRange(tcp);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), Checksum(pseudo.ToArray()));
    }

    private static ushort Checksum(ReadOnlySpan<byte> b)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < b.Length; i += 2) sum += (uint)(b[i] << 8 | b[i + 1]);
        if ((b.Length & 1) != 0) sum += (uint)b[^1] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
