namespace KmeshCompiler.Tests.Support;

public sealed record CliResult(int Exit, string Out, string Err);

/// <summary>Runs the kmeshc CLI in-process (same code path as the binary) with the repository root as
/// the base for relative paths.</summary>
public static class CliRunner
{
    private static readonly object CwdLock = new();

    public static CliResult Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc;
        lock (CwdLock)
        {
            string old = Directory.GetCurrentDirectory();
            Directory.SetCurrentDirectory(Repo.Root);
            try { rc = Kmeshc.Program.Run(args, o, e); }
            finally { Directory.SetCurrentDirectory(old); }
        }
        return new CliResult(rc, o.ToString().Replace("\r\n", "\n"), e.ToString().Replace("\r\n", "\n"));
    }
}
