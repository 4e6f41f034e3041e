using System.Collections.Immutable;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>One xDS resource decoded on its own, as a client applies them: the IR element it holds
/// (a <see cref="Ir.Workload"/> or <see cref="Ir.Service"/> for Address, a <see cref="Ir.Workload"/> for
/// Workload, a <see cref="Ir.Policy"/> for Authorization), or null when it fails validation; and what
/// the decoder said about it (warnings for what it dropped, errors for why it was rejected).</summary>
public sealed record DecodedResource(string TypeUrl, string Name, object? Element, ImmutableArray<Diagnostic> Diagnostics)
{
    public ResourceType Type => TypeUrls.Classify(TypeUrl);

    public bool Accepted => Element is not null;

    /// <summary>Why the resource fails validation ("KM5007 ...; KM5010 ..."), or null when it is
    /// accepted: what a client puts into a NACK's error_detail.</summary>
    public string? Rejection => Accepted ? null : string.Join("; ",
        (Diagnostics.Any(d => d.Severity == Severity.Error) ? Diagnostics.Where(d => d.Severity == Severity.Error) : Diagnostics)
            .Select(d => $"{d.Code} {d.Message}").DefaultIfEmpty("the resource holds nothing"));
}

/// <summary>The one decoder of xDS resources (the same rules as snapshot files, xds.md "Snapshot
/// files"), one resource at a time, for a client that must accept or reject each. Strings the
/// resources repeat are shared across calls (bounded), so one instance serves a whole stream; it is
/// not thread-safe.</summary>
public sealed class XdsResourceDecoder(string source = "xds")
{
    private readonly StringPool _strings = new();

    /// <summary>Decodes the value of an Any of <paramref name="typeUrl"/>, named
    /// <paramref name="name"/> (the Delta Resource name; a workload without a uid takes it).</summary>
    public DecodedResource Decode(string typeUrl, ReadOnlySpan<byte> value, string name)
    {
        var bag = new DiagnosticBag();
        var reader = new ResourceReader(source, new SnapshotState(), bag, _strings);
        var element = reader.Decode(typeUrl, value, name, namedByPosition: false);
        return new DecodedResource(typeUrl, name, element, [.. bag.Items]);
    }

    /// <summary>The world a set of accepted resources describes, built the way a snapshot's final state
    /// becomes a world (<see cref="XdsFrontend"/>): elements keyed by their content (uid,
    /// namespace/hostname, namespace/name; on a clash the later in the order given wins), nodes and
    /// namespaces derived. The resources' own diagnostics go into <paramref name="bag"/> with the
    /// world's (a node's conflicting localities).</summary>
    public static World ToWorld(IEnumerable<DecodedResource> resources, DiagnosticBag bag)
    {
        var state = new SnapshotState();
        foreach (var r in resources)
        {
            bag.AddRange(r.Diagnostics);
            if (r.Element is { } e) state.Put(e);
        }
        return state.ToWorld(bag);
    }
}
