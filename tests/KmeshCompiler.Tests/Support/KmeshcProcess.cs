using System.Diagnostics;

namespace KmeshCompiler.Tests.Support;

/// <summary>kmeshc as a separate process (the apphost built beside the tests), for what only a real
/// process shows: a kill -9, a fault point, two loaders at once.</summary>
public static class KmeshcProcess
{
    public static string Binary => Path.Combine(AppContext.BaseDirectory, "kmeshc");

    public static Process Start(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    /// <summary>Runs to completion: exit code (137 or -1 style for a kill), stdout, stderr.</summary>
    public static (int Exit, string Out, string Err) Run(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        using var p = Start(env, args);
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("kmeshc " + string.Join(' ', args)); }
        return (p.ExitCode, output, err.Result);
    }
}
