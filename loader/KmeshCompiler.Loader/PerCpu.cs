using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader;

/// <summary>Per-CPU map helpers: the number of slots a lookup returns.</summary>
public static class PerCpu
{
    private static readonly Lazy<int> Cpus = new(() =>
    {
        int n = LibBpf.NumPossibleCpus();
        if (n <= 0) throw new BpfException("count possible CPUs", -n);
        return n;
    });

    /// <summary>Possible CPUs (/sys/devices/system/cpu/possible), the size of a per-CPU lookup.</summary>
    public static int PossibleCpus => Cpus.Value;

    public static ulong Sum(IEnumerable<ulong> perCpu) => perCpu.Aggregate(0UL, (a, b) => a + b);
}
