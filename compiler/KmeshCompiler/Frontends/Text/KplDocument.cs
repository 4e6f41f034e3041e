using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>One bound .kpl file: the world it defines, and for policy tests (*.test.kpl) the worlds
/// it names and its expectations. <see cref="Comments"/> lets <c>kmeshc fmt</c> keep comments.</summary>
public sealed record KplDocument(
    World World,
    ImmutableArray<KplWorldRef> WorldRefs,
    ImmutableArray<KplExpectation> Expectations,
    KplComments Comments)
{
    public bool IsTest => !WorldRefs.IsEmpty || !Expectations.IsEmpty;
}

/// <summary><c>world PATH...</c>: inputs (YAML, snapshots, .kpl, directories) relative to the test file.</summary>
public sealed record KplWorldRef(ImmutableArray<string> Paths, SourceLocation Location);

public abstract record KplExpectation(SourceLocation Location);

/// <summary><c>expect connection from SRC [identity ID | plaintext] to DST port N allowed|denied [by NS/NAME]</c>.
/// SRC and DST are an IP address or namespace/pod.</summary>
public sealed record ConnectionExpectation(
    string Source,
    string? Identity,
    bool Plaintext,
    string Destination,
    uint Port,
    bool Allowed,
    string? Policy,
    SourceLocation Location) : KplExpectation(Location);

/// <summary><c>expect lb from node N service NS/NAME port P reaches W...</c>: the workloads a connect
/// may be sent to (the selectable endpoints), or <c>nothing</c>.</summary>
public sealed record LbExpectation(
    string Node,
    string Service,
    uint Port,
    ImmutableArray<string> Workloads,
    SourceLocation Location) : KplExpectation(Location);

/// <summary>Comments kept by element path ("policy:ns/name/rule[0]/clause[1]/match[0]/ports"), so the
/// canonical printer can put them back beside the element they describe even after sorting.</summary>
public sealed class KplComments
{
    public static KplComments None { get; } = new();

    /// <summary>Comment lines at the top of the file, separated from the first statement by a blank line.</summary>
    public List<string> Header { get; } = new();

    /// <summary>Own-line comments above an element.</summary>
    public Dictionary<string, List<string>> Leading { get; } = new(StringComparer.Ordinal);

    /// <summary>A comment at the end of an element's (first) line.</summary>
    public Dictionary<string, string> Trailing { get; } = new(StringComparer.Ordinal);

    /// <summary>Expectations that follow a blank line: their grouping is kept.</summary>
    public HashSet<string> BlankBefore { get; } = new(StringComparer.Ordinal);

    /// <summary>Comments that no element owns (for example between the values of a field); fmt
    /// refuses to drop them.</summary>
    public List<SourceLocation> Orphans { get; } = new();

    public bool IsEmpty => Header.Count == 0 && Leading.Count == 0 && Trailing.Count == 0;
}
