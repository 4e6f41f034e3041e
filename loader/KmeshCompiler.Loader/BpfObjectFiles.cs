namespace KmeshCompiler.Loader;

/// <summary>Finds the compiled BPF objects: beside the running binary (bpf/*.o, copied there by the
/// build), else in the source tree's bpf/build/ for tools run from a checkout.</summary>
public static class BpfObjectFiles
{
    public const string Xdp = "kmesh_xdp";
    public const string Connect = "kmesh_connect";
    public const string Baseline = "baseline";

    /// <summary>The path of bpf/NAME.o, or null when it was not built (no clang at build time).</summary>
    public static string? Find(string name)
    {
        string file = name + ".o";
        string beside = Path.Combine(AppContext.BaseDirectory, "bpf", file);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "bpf", "build", file);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Like <see cref="Find"/>, but an exception that says how to build the object.</summary>
    public static string Require(string name) =>
        Find(name) ?? throw new BpfException($"find BPF object {name}.o (build it with `make -C bpf`, which needs clang)", Errno.ENOENT);
}
