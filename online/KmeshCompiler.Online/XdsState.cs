using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Online;

/// <summary>One accepted resource: its Delta Resource name and version, what the one decoder made of it
/// (<see cref="DecodedResource.Element"/> is the IR workload, service or policy), and the Any's value
/// bytes as they arrived.</summary>
public sealed record XdsResource(string Name, string Version, DecodedResource Decoded, ReadOnlyMemory<byte> Value);

/// <summary>What the client holds in force after an applied response: the accepted resources by type
/// URL, then by name (both maps ordered by ordinal name). Immutable: a new state shares what did not
/// change with the one before. <paramref name="Revision"/> counts applied responses that changed
/// something; <paramref name="InitialSyncDone"/> turns true once every subscribed type has had a
/// response ACKed (as ztunnel marks itself ready) and stays true across reconnects.</summary>
public sealed record XdsState(long Revision, IReadOnlyDictionary<string, IReadOnlyDictionary<string, XdsResource>> Resources, bool InitialSyncDone)
{
    public static XdsState Empty { get; } = new(0, ImmutableSortedDictionary<string, IReadOnlyDictionary<string, XdsResource>>.Empty.WithComparers(StringComparer.Ordinal), false);

    /// <summary>The resources of one type (empty when none).</summary>
    public IReadOnlyDictionary<string, XdsResource> Of(string typeUrl) =>
        Resources.TryGetValue(typeUrl, out var m) ? m : ImmutableSortedDictionary<string, XdsResource>.Empty;

    public int Count => Resources.Values.Sum(m => m.Count);

    /// <summary>The world this state describes, through the one decoder's rules: the same world a
    /// snapshot file of these resources gives (<see cref="XdsResourceDecoder.ToWorld"/>). The
    /// resources' warnings and the world's own diagnostics go into <paramref name="bag"/>.</summary>
    public World ToWorld(DiagnosticBag bag) =>
        XdsResourceDecoder.ToWorld(Resources.Values.SelectMany(m => m.Values).Select(r => r.Decoded), bag);

    /// <summary>What changed from <paramref name="before"/> to <paramref name="after"/>, resource by
    /// resource (Before null: added; After null: removed), in type URL then name order.</summary>
    public static IReadOnlyList<XdsChange> Diff(XdsState before, XdsState after)
    {
        var changes = new List<XdsChange>();
        foreach (var type in before.Resources.Keys.Union(after.Resources.Keys).Order(StringComparer.Ordinal))
        {
            var a = before.Of(type);
            var b = after.Of(type);
            if (ReferenceEquals(a, b)) continue;
            foreach (var (name, r) in a)
                if (!b.TryGetValue(name, out var n)) changes.Add(new XdsChange(type, name, r, null));
                else if (!ReferenceEquals(r, n)) changes.Add(new XdsChange(type, name, r, n));
            foreach (var (name, r) in b)
                if (!a.ContainsKey(name)) changes.Add(new XdsChange(type, name, null, r));
        }
        changes.Sort((x, y) => x.TypeUrl != y.TypeUrl ? string.CompareOrdinal(x.TypeUrl, y.TypeUrl) : string.CompareOrdinal(x.Name, y.Name));
        return changes;
    }
}

/// <summary>One resource that differs between two states.</summary>
public sealed record XdsChange(string TypeUrl, string Name, XdsResource? Before, XdsResource? After);
