namespace KmeshCompiler.Tests.Support;

public static class Repo
{
    /// <summary>The repository root: the nearest ancestor of the test binary holding KmeshCompiler.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "KmeshCompiler.sln"))) return d.FullName;
        throw new InvalidOperationException("KmeshCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}
