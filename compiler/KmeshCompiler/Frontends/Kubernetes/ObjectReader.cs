using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>Typed access to the YAML of one object: every accessor reports a located diagnostic when
/// the node has the wrong type, and field sets are checked with a "did you mean" for near misses.</summary>
internal sealed class ObjectReader(DiagnosticBag bag)
{
    /// <summary>Names the object in diagnostics ("AuthorizationPolicy ns/name").</summary>
    public string? Object { get; set; }

    public int Errors { get; private set; }

    public void Report(DiagnosticDescriptor d, SourceLocation at, params object?[] args)
    {
        if (d.Severity == Severity.Error) Errors++;
        bag.Add(d.CreateFor(Object, at, args));
    }

    /// <summary>A mapping, or null when absent or null. Anything else is a type error.</summary>
    public YMap? Map(YNode? n, string path)
    {
        switch (n)
        {
            case null: return null;
            case YMap m: return m;
            case YScalar s when s.IsNull: return null;
            default:
                Report(Codes.WrongType, n.Location, path, "a mapping", n.Describe(), "");
                return null;
        }
    }

    public YSeq? List(YNode? n, string path, string itemHint = "")
    {
        switch (n)
        {
            case null: return null;
            case YSeq s: return s;
            case YScalar s when s.IsNull: return null;
            case YScalar s:
                Report(Codes.WrongType, n.Location, path, "a list", n.Describe(), $"; write it as a list: {path.Split('.').Last()}: [{Quote(s)}]");
                return null;
            default:
                Report(Codes.WrongType, n.Location, path, "a list", n.Describe(), itemHint);
                return null;
        }
    }

    private static string Quote(YScalar s) => s.IsString && !s.Value.Contains('"') ? $"\"{s.Value}\"" : s.Value;

    /// <summary>A string scalar; numbers and booleans are type errors with a hint to quote them, as the
    /// API server rejects them for string fields.</summary>
    public string? String(YNode? n, string path)
    {
        switch (n)
        {
            case null: return null;
            case YScalar s when s.IsNull: return null;
            case YScalar s when s.IsString: return s.Value;
            case YScalar s:
                Report(Codes.WrongType, n.Location, path, "a string", n.Describe(), $"; quote it: \"{s.Value}\"");
                return null;
            default:
                Report(Codes.WrongType, n.Location, path, "a string", n.Describe(), "");
                return null;
        }
    }

    /// <summary>A list of strings with the node of each entry (for locations).</summary>
    public List<(string Value, YNode Node)>? Strings(YNode? n, string path)
    {
        var seq = List(n, path);
        if (seq is null) return null;
        var result = new List<(string, YNode)>(seq.Items.Count);
        for (int i = 0; i < seq.Items.Count; i++)
        {
            var item = seq.Items[i];
            if (String(item, $"{path}[{i}]") is { } s) result.Add((s, item));
            else if (item is YScalar { IsNull: true })
                Report(Codes.WrongType, item.Location, $"{path}[{i}]", "a string", "null", "; remove the empty entry");
        }
        return result;
    }

    public bool? Bool(YNode? n, string path)
    {
        switch (n)
        {
            case null: return null;
            case YScalar s when s.IsNull: return null;
            case YScalar s when s.IsBool: return s.Value is "true" or "True" or "TRUE";
            default:
                Report(Codes.WrongType, n.Location, path, "true or false", n.Describe(), "");
                return null;
        }
    }

    /// <summary>An integer scalar (plain decimal) within [min, max].</summary>
    public long? Int(YNode? n, string path, long min, long max)
    {
        switch (n)
        {
            case null: return null;
            case YScalar s when s.IsNull: return null;
            case YScalar s when s.Plain && long.TryParse(s.Value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long v):
                if (v < min || v > max)
                {
                    Report(Codes.BadNumber, n.Location, path, $"a number from {min} to {max}", s.Value);
                    return null;
                }
                return v;
            default:
                Report(Codes.WrongType, n.Location, path, "a number", n.Describe(), "");
                return null;
        }
    }

    /// <summary>A string→string mapping (labels, annotations, matchLabels).</summary>
    public List<(string Key, string Value, YScalar KeyNode, YNode ValueNode)>? StringMap(YNode? n, string path)
    {
        var m = Map(n, path);
        if (m is null) return null;
        var result = new List<(string, string, YScalar, YNode)>(m.Entries.Count);
        foreach (var (k, v) in m.Entries)
        {
            if (v is YScalar { IsNull: true }) { result.Add((k.Value, "", k, v)); continue; }
            if (String(v, $"{path}.{k.Value}") is { } s) result.Add((k.Value, s, k, v));
        }
        return result;
    }

    /// <summary>Reports every key of <paramref name="m"/> not in <paramref name="allowed"/>.</summary>
    public void Fields(YMap m, string what, IReadOnlyList<string> allowed)
    {
        foreach (var (k, _) in m.Entries)
        {
            if (allowed.Contains(k.Value)) continue;
            string? near = DidYouMean(k.Value, allowed);
            string hint = near is null ? $"; the fields are {string.Join(", ", allowed)}" : $"; did you mean '{near}'?";
            Report(Codes.UnknownField, k.Location, k.Value, what, hint);
        }
    }

    /// <summary>A near miss (see <see cref="NearMiss.DidYouMean"/>).</summary>
    public static string? DidYouMean(string word, IEnumerable<string> candidates) => NearMiss.DidYouMean(word, candidates);

    public static int Distance(string a, string b, int limit) => NearMiss.Distance(a, b, limit);
}
