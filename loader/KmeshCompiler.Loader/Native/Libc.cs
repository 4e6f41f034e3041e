using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader.Native;

/// <summary>The few libc calls the loader needs beside libbpf.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint IfNameToIndex(string name);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    internal const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
}

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);

    internal const int F_DUPFD_CLOEXEC = 1030;
}
