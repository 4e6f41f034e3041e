using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>BPF links (bpf.h): attachments held by a file descriptor that can be pinned.</summary>
internal static unsafe partial class LibBpf
{
    /// <summary>The head of struct bpf_link_create_opts: sz and flags (the XDP mode for BPF_XDP).
    /// libbpf reads the members past <c>sz</c> as absent.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    internal struct LinkCreateOpts
    {
        [FieldOffset(0)] public nuint Sz;
        [FieldOffset(8)] public uint Flags;
    }

    [LibraryImport(Lib, EntryPoint = "bpf_link_create", SetLastError = true)]
    internal static partial int LinkCreate(int progFd, int targetFd, int attachType, LinkCreateOpts* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_link_update", SetLastError = true)]
    internal static partial int LinkUpdate(int linkFd, int newProgFd, void* opts);

    [LibraryImport(Lib, EntryPoint = "bpf_link_detach", SetLastError = true)]
    internal static partial int LinkDetach(int linkFd);
}
