using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader;

/// <summary>Linux errno values by name, so errors read "ENOENT: No such file or directory", not -2.</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, E2BIG = 7, EBADF = 9, EAGAIN = 11,
        ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20,
        EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOSPC = 28, ERANGE = 34, ENAMETOOLONG = 36,
        ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EPROTO = 71, EOVERFLOW = 75, EOPNOTSUPP = 95,
        EADDRINUSE = 98, EADDRNOTAVAIL = 99, ETIMEDOUT = 110, ECONNREFUSED = 111, ENOTSUPP = 524;

    private static readonly Dictionary<int, string> Names = new()
    {
        [EPERM] = "EPERM", [ENOENT] = "ENOENT", [ESRCH] = "ESRCH", [EINTR] = "EINTR", [EIO] = "EIO", [E2BIG] = "E2BIG",
        [EBADF] = "EBADF", [EAGAIN] = "EAGAIN", [ENOMEM] = "ENOMEM", [EACCES] = "EACCES", [EFAULT] = "EFAULT",
        [EBUSY] = "EBUSY", [EEXIST] = "EEXIST", [EXDEV] = "EXDEV", [ENODEV] = "ENODEV", [ENOTDIR] = "ENOTDIR",
        [EISDIR] = "EISDIR", [EINVAL] = "EINVAL", [ENFILE] = "ENFILE", [EMFILE] = "EMFILE", [ENOSPC] = "ENOSPC",
        [ERANGE] = "ERANGE", [ENAMETOOLONG] = "ENAMETOOLONG", [ENOSYS] = "ENOSYS", [ENOTEMPTY] = "ENOTEMPTY",
        [ELOOP] = "ELOOP", [ENODATA] = "ENODATA", [EPROTO] = "EPROTO", [EOVERFLOW] = "EOVERFLOW",
        [EOPNOTSUPP] = "EOPNOTSUPP", [EADDRINUSE] = "EADDRINUSE", [EADDRNOTAVAIL] = "EADDRNOTAVAIL",
        [ETIMEDOUT] = "ETIMEDOUT", [ECONNREFUSED] = "ECONNREFUSED", [ENOTSUPP] = "ENOTSUPP",
        // libbpf's own codes (libbpf.h, enum libbpf_errno)
        [4000] = "LIBBPF_ERRNO__LIBELF", [4001] = "LIBBPF_ERRNO__FORMAT", [4002] = "LIBBPF_ERRNO__KVERSION",
        [4003] = "LIBBPF_ERRNO__ENDIAN", [4004] = "LIBBPF_ERRNO__INTERNAL", [4005] = "LIBBPF_ERRNO__RELOC",
        [4006] = "LIBBPF_ERRNO__LOAD", [4007] = "LIBBPF_ERRNO__VERIFY", [4008] = "LIBBPF_ERRNO__PROG2BIG",
        [4009] = "LIBBPF_ERRNO__KVER", [4010] = "LIBBPF_ERRNO__PROGTYPE", [4011] = "LIBBPF_ERRNO__WRNGPID",
        [4012] = "LIBBPF_ERRNO__INVSEQ", [4013] = "LIBBPF_ERRNO__NLPARSE",
    };

    /// <summary>"ENOENT" for 2 (or -2); "errno 1234" for an unknown value.</summary>
    public static string Name(int errno)
    {
        errno = Math.Abs(errno);
        return Names.TryGetValue(errno, out var n) ? n : $"errno {errno}";
    }

    /// <summary>"ENOENT (No such file or directory)".</summary>
    public static string Describe(int errno)
    {
        errno = Math.Abs(errno);
        string text = errno is >= 4000 and < 4100 ? "libbpf error" : Marshal.GetPInvokeErrorMessage(errno);
        return $"{Name(errno)} ({text})";
    }
}

/// <summary>A failed BPF or libbpf call. <see cref="Errno"/> is positive; the message names it.</summary>
public sealed class BpfException : Exception
{
    public int Errno { get; }
    public string Operation { get; }
    public string? Log { get; }

    public BpfException(string operation, int errno, string? log = null)
        : base($"{operation}: {Loader.Errno.Describe(errno)}" + (string.IsNullOrEmpty(log) ? "" : "\n" + log))
    {
        Operation = operation;
        Errno = Math.Abs(errno);
        Log = log;
    }

    public string ErrnoName => Loader.Errno.Name(Errno);

    /// <summary>Throws when a libbpf call returned a negative error code.</summary>
    internal static int Check(int rc, string operation)
    {
        if (rc < 0) throw new BpfException(operation, -rc == 0 ? Marshal.GetLastPInvokeError() : -rc);
        return rc;
    }

    /// <summary>For calls that return -1 and set errno (the raw bpf(2) style).</summary>
    internal static int CheckErrno(int rc, string operation)
    {
        if (rc < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            throw new BpfException(operation, e != 0 ? e : -rc);
        }
        return rc;
    }
}
