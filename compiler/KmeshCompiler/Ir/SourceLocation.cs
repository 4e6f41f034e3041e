namespace KmeshCompiler.Ir;

/// <summary>Where an IR element came from. Line and column are 1-based; 0 means unknown.
/// For xDS input the file is the snapshot path and <see cref="Resource"/> names the resource.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column, string? Resource = null)
{
    public static readonly SourceLocation None = new("", 0, 0);

    public bool IsKnown => File.Length > 0;

    public override string ToString() =>
        Line > 0 ? $"{File}:{Line}:{Column}" : Resource is null ? File : $"{File}[{Resource}]";
}
