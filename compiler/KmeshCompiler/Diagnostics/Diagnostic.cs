using KmeshCompiler.Ir;

namespace KmeshCompiler.Diagnostics;

public enum Severity { Info = 0, Warning = 1, Error = 2 }

/// <summary>A diagnostic kind: a stable code (KMnnnn), a default severity and a message format.
/// Codes are grouped by stage: KM1xxx structure, KM2xxx values, KM3xxx actions and conditions,
/// KM4xxx ambient lints, KM5xxx xDS, KM6xxx text language, KM7xxx lowering and image, KM8xxx
/// kernel and loader, KM9xxx inputs and environment. A published code never changes meaning.</summary>
public sealed record DiagnosticDescriptor(string Code, Severity Severity, string Format)
{
    public Diagnostic Create(SourceLocation location, params object?[] args) =>
        new(this, Severity, location, args.Length == 0 ? Format : string.Format(System.Globalization.CultureInfo.InvariantCulture, Format, args), null);

    /// <summary>A diagnostic about a named object (<paramref name="obj"/>, e.g. "Pod ns/name"). A name of
    /// its own, not an overload of <see cref="Create"/>: with one, a string first argument would be taken
    /// for the object and the message left unformatted.</summary>
    public Diagnostic CreateFor(string? obj, SourceLocation location, params object?[] args) =>
        Create(location, args) with { Object = obj };
}

/// <summary>One finding, pointing at the file, line and column (or resource) that caused it.</summary>
public sealed record Diagnostic(DiagnosticDescriptor Descriptor, Severity Severity, SourceLocation Location, string Message, string? Object)
{
    public string Code => Descriptor.Code;

    public override string ToString()
    {
        string where = Location.IsKnown ? Location.ToString() : "<input>";
        string sev = Severity.ToString().ToLowerInvariant();
        return $"{where}: {sev} {Code}: {Message}";
    }
}

/// <summary>Collects diagnostics; stages add to it and never throw for user errors.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = new();

    public IReadOnlyList<Diagnostic> Items => _items;

    public bool HasErrors => _items.Any(d => d.Severity == Severity.Error);

    public int Count(Severity s) => _items.Count(d => d.Severity == s);

    public void Add(Diagnostic d) => _items.Add(d);

    public Diagnostic Add(DiagnosticDescriptor descriptor, SourceLocation location, params object?[] args)
    {
        var d = descriptor.Create(location, args);
        _items.Add(d);
        return d;
    }

    public void AddRange(IEnumerable<Diagnostic> ds) => _items.AddRange(ds);

    /// <summary>Suppressions the inputs declare (the annotation <c>kmesh.io/suppress</c> on an object).</summary>
    public List<Suppression> Suppressions { get; } = new();

    /// <summary>Objects read from the inputs (documents' objects, snapshot resources, .kpl items), for summaries.</summary>
    public int ObjectsRead { get; set; }

    /// <summary>Takes another bag's diagnostics, suppressions and object count (a piece read in parallel).</summary>
    public void Absorb(DiagnosticBag other)
    {
        _items.AddRange(other._items);
        Suppressions.AddRange(other.Suppressions);
        ObjectsRead += other.ObjectsRead;
    }

    /// <summary>Sorted by file, line, column, code: the order every output uses.</summary>
    public IReadOnlyList<Diagnostic> Sorted() => _items
        .OrderBy(d => d.Location.File, StringComparer.Ordinal)
        .ThenBy(d => d.Location.Line)
        .ThenBy(d => d.Location.Column)
        .ThenBy(d => d.Location.Resource, StringComparer.Ordinal)
        .ThenBy(d => d.Code, StringComparer.Ordinal)
        .ThenBy(d => d.Message, StringComparer.Ordinal)
        .ToList();
}
