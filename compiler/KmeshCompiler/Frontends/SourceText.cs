namespace KmeshCompiler.Frontends;

/// <summary>One input's bytes and the name diagnostics use for it ("-" is shown as "&lt;stdin&gt;").</summary>
public sealed record SourceText(string Path, byte[] Bytes)
{
    public string DisplayPath => Path == "-" ? "<stdin>" : Path;

    public string Text => System.Text.Encoding.UTF8.GetString(Bytes);
}
