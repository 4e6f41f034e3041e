using System.Runtime.InteropServices;
using System.Text;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>The outcome of BPF_PROG_TEST_RUN: the program's return value, the average time per
/// repetition as the kernel measured it, and the packet as the program left it.</summary>
public sealed record TestRunResult(uint ReturnValue, uint DurationNs, byte[] DataOut)
{
    public XdpAction XdpAction => (XdpAction)ReturnValue;
}

/// <summary>A loaded BPF program held by its own file descriptor.</summary>
public sealed unsafe class BpfProgram : IDisposable
{
    public BpfFd Fd { get; }
    public string Name { get; }
    public BpfProgramType Type { get; }

    internal BpfProgram(BpfFd fd, string name, BpfProgramType type)
    {
        Fd = fd; Name = name; Type = type;
    }

    /// <summary>Opens a pinned program.</summary>
    public static BpfProgram OpenPinned(string path)
    {
        int fd = LibBpf.ObjGet(path);
        BpfException.Check(fd, $"open pinned program {path}");
        var f = new BpfFd(fd);
        var (type, name) = Info(f);
        return new BpfProgram(f, name, type);
    }

    internal static (BpfProgramType Type, string Name) Info(BpfFd fd)
    {
        const int size = 80;
        byte* info = stackalloc byte[size];
        new Span<byte>(info, size).Clear();
        uint len = size;
        BpfException.Check(LibBpf.ObjGetInfoByFd(fd.Value, info, &len), "read program info");
        var s = new ReadOnlySpan<byte>(info, size);
        return ((BpfProgramType)MemoryMarshal.Read<uint>(s), Encoding.UTF8.GetString(s.Slice(64, 16)).TrimEnd('\0'));
    }

    public void Pin(string path) => BpfException.Check(LibBpf.ObjPin(Fd.Value, path), $"pin program {Name} at {path}");

    /// <summary>Runs the program on <paramref name="data"/> with BPF_PROG_TEST_RUN, <paramref name="repeat"/>
    /// times (the kernel reports the mean duration per run). Needs root.</summary>
    public TestRunResult TestRun(ReadOnlySpan<byte> data, int repeat = 1, ReadOnlySpan<byte> context = default)
    {
        var outBuf = new byte[Math.Max(data.Length + 256, 256)];
        fixed (byte* din = data)
        fixed (byte* dout = outBuf)
        fixed (byte* ctx = context)
        {
            var opts = new LibBpf.TestRunOpts
            {
                Sz = (nuint)sizeof(LibBpf.TestRunOpts),
                DataIn = din,
                DataSizeIn = (uint)data.Length,
                DataOut = dout,
                DataSizeOut = (uint)outBuf.Length,
                Repeat = Math.Max(1, repeat),
            };
            if (!context.IsEmpty)
            {
                opts.CtxIn = ctx;
                opts.CtxSizeIn = (uint)context.Length;
            }
            BpfException.Check(LibBpf.ProgTestRunOpts(Fd.Value, &opts), $"test run of program {Name}");
            return new TestRunResult(opts.Retval, opts.Duration, outBuf.AsSpan(0, (int)Math.Min(opts.DataSizeOut, (uint)outBuf.Length)).ToArray());
        }
    }

    /// <summary>Attaches this XDP program to a network interface; disposing the result detaches it.</summary>
    public XdpAttachment AttachXdp(string interfaceName, XdpMode mode = XdpMode.Default)
    {
        uint ifindex = Libc.IfNameToIndex(interfaceName);
        if (ifindex == 0) throw new BpfException($"find interface {interfaceName}", Marshal.GetLastPInvokeError() is var e && e != 0 ? e : Errno.ENODEV);
        return AttachXdp((int)ifindex, mode);
    }

    public XdpAttachment AttachXdp(int ifindex, XdpMode mode = XdpMode.Default)
    {
        var opts = new LibBpf.XdpAttachOpts { Sz = (nuint)sizeof(LibBpf.XdpAttachOpts) };
        BpfException.Check(LibBpf.XdpAttach(ifindex, Fd.Value, (uint)mode, &opts), $"attach XDP program {Name} to interface {ifindex}");
        return new XdpAttachment(ifindex, mode);
    }

    /// <summary>Attaches this program to a cgroup v2 directory (connect4/connect6 hooks and the like).</summary>
    public CgroupAttachment AttachCgroup(string cgroupPath, BpfAttachType type, CgroupAttachFlags flags = CgroupAttachFlags.AllowMulti)
    {
        int dfd = Libc.Open(cgroupPath, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (dfd < 0) throw new BpfException($"open cgroup {cgroupPath}", Marshal.GetLastPInvokeError());
        var cg = new BpfFd(dfd);
        var opts = new LibBpf.ProgAttachOpts { Sz = (nuint)sizeof(LibBpf.ProgAttachOpts), Flags = (uint)flags };
        int rc = LibBpf.ProgAttachOptsCall(Fd.Value, cg.Value, (int)type, &opts);
        if (rc < 0)
        {
            cg.Dispose();
            throw new BpfException($"attach program {Name} to cgroup {cgroupPath} as {type}", -rc);
        }
        return new CgroupAttachment(cg, Fd.Duplicate(Name), type, cgroupPath);
    }

    public override string ToString() => $"{Name} ({Type})";

    public void Dispose() => Fd.Dispose();
}

/// <summary>An XDP program attached to an interface; Dispose detaches it.</summary>
public sealed unsafe class XdpAttachment(int ifindex, XdpMode mode) : IDisposable
{
    public int InterfaceIndex { get; } = ifindex;
    private bool _detached;

    public void Dispose()
    {
        if (_detached) return;
        _detached = true;
        var opts = new LibBpf.XdpAttachOpts { Sz = (nuint)sizeof(LibBpf.XdpAttachOpts) };
        LibBpf.XdpDetach(InterfaceIndex, (uint)mode, &opts); // the interface may already be gone with its namespace
    }
}

/// <summary>A program attached to a cgroup; Dispose detaches it.</summary>
public sealed class CgroupAttachment(BpfFd cgroup, BpfFd program, BpfAttachType type, string path) : IDisposable
{
    public string CgroupPath { get; } = path;
    public BpfAttachType Type { get; } = type;

    public void Dispose()
    {
        if (cgroup.IsClosed) return;
        Native.LibBpf.ProgDetach2(program.Value, cgroup.Value, (int)Type);
        program.Dispose();
        cgroup.Dispose();
    }
}
