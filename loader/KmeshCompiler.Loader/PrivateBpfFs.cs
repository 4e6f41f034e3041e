using System.Runtime.InteropServices;

namespace KmeshCompiler.Loader;

/// <summary>A bpffs instance of its own, mounted on a fresh temporary directory: pins made there are
/// invisible to /sys/fs/bpf and vanish with the mount. Dispose unmounts (lazily) and removes the
/// directory.</summary>
public sealed partial class PrivateBpfFs : IDisposable
{
    public string Path { get; }

    public PrivateBpfFs()
    {
        Path = Directory.CreateTempSubdirectory("kmesh-bpffs-").FullName;
        if (Mount("bpf", Path, "bpf", 0, "mode=0700") != 0)
        {
            int e = Marshal.GetLastPInvokeError();
            Directory.Delete(Path);
            throw new BpfException($"mount bpffs at {Path}", e);
        }
    }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string source, string target, string fsType, ulong flags, string data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    private const int MntDetach = 2;

    public void Dispose()
    {
        Umount2(Path, MntDetach);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
