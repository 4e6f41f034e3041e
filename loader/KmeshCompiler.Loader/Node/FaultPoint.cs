using KmeshCompiler.Loader.Native;

namespace KmeshCompiler.Loader.Node;

/// <summary>Counts the loader's kernel writes and, for crash tests only, kills the process with
/// SIGKILL right after the N-th when <c>KMESH_LOADER_FAULT_AFTER=N</c> is set (read by the loader and
/// nothing else). A write is one syscall that changes kernel state: a map update, delete or batch, a
/// pin, a link.</summary>
public sealed class FaultPoint
{
    public const string Variable = "KMESH_LOADER_FAULT_AFTER";

    private readonly long _after;

    public FaultPoint(long after = 0) => _after = after;

    public static FaultPoint FromEnvironment() =>
        new(long.TryParse(Environment.GetEnvironmentVariable(Variable), out long n) && n > 0 ? n : 0);

    /// <summary>Kernel writes so far.</summary>
    public long Writes { get; private set; }

    public void Wrote()
    {
        Writes++;
        if (_after > 0 && Writes >= _after) Libc.Kill(Environment.ProcessId, Libc.SIGKILL);
    }
}
