using System.Runtime.InteropServices;
using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>An owned file descriptor of a BPF object (map, program, link) or of a directory.</summary>
public sealed class BpfFd : SafeHandle
{
    public BpfFd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor, for the native calls of this library only.</summary>
    public int Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle;
        }
    }

    /// <summary>A second descriptor for the same kernel object, owned separately.</summary>
    public BpfFd Duplicate(string what)
    {
        int fd = Libc.Fcntl(Value, Libc.F_DUPFD_CLOEXEC, 3);
        if (fd < 0) throw new BpfException($"dup {what}", Marshal.GetLastPInvokeError());
        return new BpfFd(fd);
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
