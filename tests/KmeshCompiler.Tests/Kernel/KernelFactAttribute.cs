using KmeshCompiler.Loader;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A test that needs the real kernel: root, BPF, and the programs built by clang. Where one
/// is missing the test is reported as skipped with the reason (visible in the test output and the
/// trx); .ci/run fails when that happens on a machine where BPF works.</summary>
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (KernelEnvironment.SkipReason is { } reason) Skip = reason;
    }
}

public static class KernelEnvironment
{
    private static readonly Lazy<string?> Reason = new(Probe);

    /// <summary>Null when kernel tests can run here.</summary>
    public static string? SkipReason => Reason.Value;

    private static string? Probe()
    {
        if (BpfEnvironment.Unavailable() is { } why) return "kernel test skipped: " + why;
        foreach (var name in new[] { BpfObjectFiles.Baseline, BpfObjectFiles.Xdp, BpfObjectFiles.Connect })
            if (BpfObjectFiles.Find(name) is null)
                return $"kernel test skipped: bpf/{name}.o was not built (clang -target bpf missing at build time?)";
        return null;
    }

    /// <summary>Runs a command and returns its stdout; throws with stderr on failure.</summary>
    public static string Run(string file, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {err.Trim()}");
        return stdout.Result;
    }
}
