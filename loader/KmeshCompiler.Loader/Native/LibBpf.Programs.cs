using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>Running and attaching programs (bpf.h, libbpf.h).</summary>
internal static unsafe partial class LibBpf
{
    /// <summary>struct bpf_test_run_opts (80 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 80)]
    internal struct TestRunOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public void* DataIn;
        [FieldOffset(16)] public void* DataOut;
        [FieldOffset(24)] public uint DataSizeIn;
        [FieldOffset(28)] public uint DataSizeOut;
        [FieldOffset(32)] public void* CtxIn;
        [FieldOffset(40)] public void* CtxOut;
        [FieldOffset(48)] public uint CtxSizeIn;
        [FieldOffset(52)] public uint CtxSizeOut;
        [FieldOffset(56)] public uint Retval;
        [FieldOffset(60)] public int Repeat;
        [FieldOffset(64)] public uint Duration;
        [FieldOffset(68)] public uint Flags;
        [FieldOffset(72)] public uint Cpu;
        [FieldOffset(76)] public uint BatchSize;
    }

    /// <summary>struct bpf_prog_attach_opts (16 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    internal struct ProgAttachOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public uint Flags;
        [FieldOffset(12)] public int ReplaceProgFd;
    }

    /// <summary>struct bpf_xdp_attach_opts (16 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    internal struct XdpAttachOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public int OldProgFd;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_prog_test_run_opts", SetLastError = true)]
    internal static partial int ProgTestRunOpts(int progFd, TestRunOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_prog_attach_opts", SetLastError = true)]
    internal static partial int ProgAttachOptsCall(int progFd, int attachableFd, int attachType, ProgAttachOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_prog_detach2", SetLastError = true)]
    internal static partial int ProgDetach2(int progFd, int attachableFd, int attachType);

    [LibraryImport(Lib, EntryPoint = "bpf_xdp_attach", SetLastError = true)]
    internal static partial int XdpAttach(int ifindex, int progFd, uint flags, XdpAttachOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_xdp_detach", SetLastError = true)]
    internal static partial int XdpDetach(int ifindex, uint flags, XdpAttachOpts* opts);
}
