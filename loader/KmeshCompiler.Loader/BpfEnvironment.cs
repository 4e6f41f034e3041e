using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>Whether this process can use BPF at all, and if not, why (for exit-2 messages and test
/// skips).</summary>
public static class BpfEnvironment
{
    public static bool IsRoot => Libc.GetEuid() == 0;

    /// <summary>Null when BPF maps and programs can be created here; otherwise the reason.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "BPF needs Linux";
        if (!IsRoot) return "BPF needs root (CAP_BPF and CAP_NET_ADMIN); run as root";
        try
        {
            using var m = BpfMap.Create(BpfMapType.Array, "km_probe", 4, 4, 1);
            return null;
        }
        catch (DllNotFoundException)
        {
            return "libbpf.so.1 is not installed (Debian package libbpf1)";
        }
        catch (BpfException e)
        {
            return $"the kernel refuses BPF: {e.Message}";
        }
    }
}
