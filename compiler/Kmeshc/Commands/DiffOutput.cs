using System.Globalization;
using System.Text;
using System.Text.Json;
using KmeshCompiler.Diff;
using KmeshCompiler.Image;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace Kmeshc.Commands;

/// <summary>The four renderings of a semantic diff (text, json, github, sarif) and the text of a
/// structural one.</summary>
public static class DiffOutput
{
    private const int MaxIdentitiesShown = 8;

    private static string Dec(Decision d) => d == Decision.Allow ? "ALLOW" : "DENY";

    private static string Ports(SemanticChange c) =>
        c.Ports is [{ First: 0, Last: 65535 }] ? "any port" : (c.Ports.Length == 1 && c.Ports[0].First == c.Ports[0].Last ? "port " : "ports ") + string.Join(", ", c.Ports);

    private static string Cidrs(IEnumerable<IpRange> ranges) => string.Join(", ", ranges.SelectMany(r => r.ToPrefixes()));

    private static bool Everything(System.Collections.Immutable.ImmutableArray<IpRange> r) =>
        r.Length == 2 && r[0].ToPrefixes().Single() is { Length: 0, Address.IsV6: false } && r[1].ToPrefixes().Single() is { Length: 0, Address.IsV6: true };

    /// <summary>The sources as one line each: address ranges, outside-the-mesh ranges, identities.</summary>
    public static IEnumerable<string> SourceLines(DiffSources s)
    {
        if (!s.AnyAddress.IsEmpty)
            yield return Everything(s.AnyAddress) ? "from any source" : $"from any source in {Cidrs(s.AnyAddress)}";
        if (!s.Outside.IsEmpty)
            yield return Everything(s.Outside) ? "from outside the mesh (any address of no workload)"
                : $"from outside the mesh (addresses of no workload) in {Cidrs(s.Outside)}";
        var ids = s.Workloads.GroupBy(w => w.IdentityText, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        foreach (var g in ids.Take(MaxIdentitiesShown))
        {
            var addrs = g.Select(w => w.Address).ToList();
            yield return addrs.Count <= 3 ? $"from {g.Key} ({string.Join(", ", addrs)})" : $"from {g.Key} ({addrs.Count} addresses)";
        }
        if (ids.Count > MaxIdentitiesShown)
            yield return $"... and {ids.Count - MaxIdentitiesShown} more identities ({ids.Skip(MaxIdentitiesShown).Sum(g => g.Count())} addresses)";
    }

    private static string Short(DiffSources s)
    {
        var parts = new List<string>();
        if (!s.AnyAddress.IsEmpty) parts.Add(Everything(s.AnyAddress) ? "*" : Cidrs(s.AnyAddress));
        if (!s.Outside.IsEmpty) parts.Add(Everything(s.Outside) ? "outside the mesh" : $"outside the mesh in {Cidrs(s.Outside)}");
        // Identities by namespace: "bar/*" when every listed identity of bar is meant, else ns/sa.
        var ns = s.Workloads.Select(w => w.After ?? w.Before).Where(i => i is not null).GroupBy(i => i!.Namespace, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        foreach (var g in ns.Take(4))
        {
            var sas = g.Select(i => i!.ServiceAccount).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            parts.Add(sas.Count == 1 ? $"{g.Key}/{sas[0]}" : $"{g.Key}/{{{string.Join(",", sas.Take(3))}{(sas.Count > 3 ? ",..." : "")}}}");
        }
        if (ns.Count > 4) parts.Add($"{ns.Count - 4} more namespaces");
        return string.Join("; ", parts);
    }

    private static string Dests(SemanticChange c)
    {
        var names = c.Destinations.Select(d => d.Name).Distinct(StringComparer.Ordinal).ToList();
        return names.Count <= 3 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(3))} and {names.Count - 3} more";
    }

    private static string Side(SideDecision s)
    {
        string pol = s.Policies.IsEmpty ? "" : " — " + string.Join(", ", s.Policies.Select(p => p.Location.IsKnown ? $"{p.Key} ({p.Location})" : p.Key));
        return $"{Dec(s.Decision)} ({s.Reason}){pol}";
    }

    /// <summary>"this change allows|denies SOURCES -> DEST:PORTS".</summary>
    public static string Headline(SemanticChange c) =>
        $"this change {(c.NewlyAllowed ? "allows" : "denies")} {Short(c.Sources)} -> {Dests(c)}:{(c.Ports is [{ First: 0, Last: 65535 }] ? "*" : string.Join(",", c.Ports))}";

    public static string Text(SemanticDiffResult r)
    {
        var sb = new StringBuilder();
        // Grouped by destination, groups in the order of their most important change.
        var groups = r.Changes.GroupBy(c => string.Join(", ", c.Destinations.GroupBy(d => d.Name, StringComparer.Ordinal)
            .Select(g => $"{g.Key} ({string.Join(", ", g.Select(d => d.Address))})")), StringComparer.Ordinal);
        foreach (var g in groups)
        {
            sb.Append(g.Key).Append('\n');
            foreach (var c in g)
            {
                sb.Append(c.NewlyAllowed ? "  + newly allowed, " : "  - newly denied, ").Append(Ports(c)).Append('\n');
                foreach (var line in SourceLines(c.Sources)) sb.Append("      ").Append(line).Append('\n');
                sb.Append("      before: ").Append(Side(c.Before)).Append('\n');
                sb.Append("      after:  ").Append(Side(c.After)).Append('\n');
            }
            sb.Append('\n');
        }
        sb.Append(Summary(r)).Append('\n');
        return sb.ToString();
    }

    public static string Summary(SemanticDiffResult r)
    {
        if (r.Equal)
            return $"no connection changes its decision ({r.Stats.DestinationsExamined} destination addresses examined)";
        int allowed = r.Changes.Count(c => c.NewlyAllowed), outside = r.Changes.Count(c => c.NewlyAllowed && c.Sources.FromOutside);
        return $"{r.Changes.Length} change(s): {allowed} newly allowed ({outside} from outside the mesh), {r.Changes.Length - allowed} newly denied; " +
               $"{r.Stats.DestinationsExamined} destination addresses examined";
    }

    public static string Json(SemanticDiffResult r) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("changes");
        foreach (var c in r.Changes)
        {
            w.WriteStartObject();
            w.WriteStartArray("destinations");
            foreach (var d in c.Destinations)
            {
                w.WriteStartObject();
                w.WriteString("workload", d.Name);
                w.WriteString("address", d.Address.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("sources");
            WriteCidrs(w, "any", c.Sources.AnyAddress);
            WriteCidrs(w, "outside", c.Sources.Outside);
            w.WriteStartArray("workloads");
            foreach (var s in c.Sources.Workloads)
            {
                w.WriteStartObject();
                w.WriteString("address", s.Address.ToString());
                WriteIdentity(w, "identityBefore", s.Before);
                WriteIdentity(w, "identityAfter", s.After);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartArray("ports");
            foreach (var p in c.Ports) w.WriteStringValue(p.ToString());
            w.WriteEndArray();
            w.WriteString("before", c.Before.Decision == Decision.Allow ? "allow" : "deny");
            w.WriteString("after", c.After.Decision == Decision.Allow ? "allow" : "deny");
            w.WriteString("beforeReason", c.Before.Reason);
            w.WriteString("afterReason", c.After.Reason);
            WritePolicies(w, "beforePolicies", c.Before);
            WritePolicies(w, "afterPolicies", c.After);
            w.WriteString("message", Headline(c));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("summary");
        w.WriteNumber("changes", r.Changes.Length);
        w.WriteNumber("newlyAllowed", r.Changes.Count(c => c.NewlyAllowed));
        w.WriteNumber("newlyAllowedFromOutside", r.Changes.Count(c => c.NewlyAllowed && c.Sources.FromOutside));
        w.WriteNumber("newlyDenied", r.Changes.Count(c => !c.NewlyAllowed));
        w.WriteNumber("changedPolicies", r.Stats.ChangedPolicies);
        w.WriteNumber("changedWorkloads", r.Stats.ChangedWorkloads);
        w.WriteNumber("changedSourceIdentities", r.Stats.ChangedSourceIdentities);
        w.WriteNumber("destinationsExamined", r.Stats.DestinationsExamined);
        w.WriteNumber("evaluations", r.Stats.Evaluations);
        w.WriteEndObject();
        w.WriteEndObject();
    }) + "\n";

    private static void WriteCidrs(Utf8JsonWriter w, string name, IEnumerable<IpRange> ranges)
    {
        w.WriteStartArray(name);
        foreach (var p in ranges.SelectMany(r => r.ToPrefixes())) w.WriteStringValue(p.ToString());
        w.WriteEndArray();
    }

    private static void WriteIdentity(Utf8JsonWriter w, string name, Identity? id)
    {
        if (id is null) w.WriteNull(name); else w.WriteString(name, id.ToString());
    }

    private static void WritePolicies(Utf8JsonWriter w, string name, SideDecision s)
    {
        w.WriteStartArray(name);
        foreach (var p in s.Policies)
        {
            w.WriteStartObject();
            w.WriteString("policy", p.Key);
            w.WriteString("action", Kmeshc.Json.Action(p.Action));
            w.WriteString("file", p.Location.File);
            w.WriteNumber("line", p.Location.Line);
            w.WriteNumber("column", p.Location.Column);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Where to annotate a change: its responsible policies that have a line in a file.</summary>
    private static IEnumerable<Policy> AnnotationTargets(SemanticChange c) => c.Responsible.Where(p => p.Location.Line > 0);

    private static string Level(SemanticChange c) => c.NewlyAllowed && c.Sources.FromOutside ? "warning" : "notice";

    public static string Github(SemanticDiffResult r)
    {
        var sb = new StringBuilder();
        foreach (var c in r.Changes)
        {
            string msg = ValidateCommand.EscapeData(Headline(c) + $" (before: {Dec(c.Before.Decision)}, {c.Before.Reason}; after: {Dec(c.After.Decision)}, {c.After.Reason})");
            var targets = AnnotationTargets(c).ToList();
            if (targets.Count == 0) sb.Append("::").Append(Level(c)).Append("::").Append(msg).Append('\n');
            foreach (var p in targets)
                sb.Append("::").Append(Level(c)).Append(" file=").Append(ValidateCommand.EscapeProperty(p.Location.File))
                  .Append(",line=").Append(p.Location.Line).Append(",col=").Append(p.Location.Column)
                  .Append(",title=").Append(ValidateCommand.EscapeProperty(p.Key)).Append("::").Append(msg).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>SARIF 2.1.0: rules "newly-allowed" and "newly-denied", one result per change located
    /// at its responsible policies.</summary>
    public static string Sarif(SemanticDiffResult r) => Kmeshc.Json.Write(w =>
    {
        ValidateCommand.SarifOpen(w, "kmeshc diff");
        foreach (var (id, text) in new[] { ("newly-allowed", "connections this change allows that were denied"), ("newly-denied", "connections this change denies that were allowed") })
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteStartObject("shortDescription");
            w.WriteString("text", text);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartArray("results");
        foreach (var c in r.Changes)
        {
            w.WriteStartObject();
            w.WriteString("ruleId", c.NewlyAllowed ? "newly-allowed" : "newly-denied");
            w.WriteNumber("ruleIndex", c.NewlyAllowed ? 0 : 1);
            w.WriteString("level", Level(c) == "warning" ? "warning" : "note");
            w.WriteStartObject("message");
            w.WriteString("text", Headline(c));
            w.WriteEndObject();
            w.WriteStartArray("locations");
            foreach (var p in AnnotationTargets(c)) ValidateCommand.SarifLocation(w, p.Location);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ValidateCommand.SarifClose(w);
    }) + "\n";

    /// <summary>The structural diff of one node: per table, rows removed (-), added (+) and changed
    /// (the old row, then the new).</summary>
    public static string Structural(string node, IReadOnlyList<TableDiff> tables)
    {
        var sb = new StringBuilder();
        if (tables.Count == 0) return sb.Append(CultureInfo.InvariantCulture, $"node {node}: no table changes\n").ToString();
        sb.Append(CultureInfo.InvariantCulture, $"node {node}:\n");
        foreach (var t in tables)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {t.Table}: {t.Added.Length} added, {t.Removed.Length} removed, {t.Changed.Length} changed\n");
            foreach (var row in t.Removed) sb.Append(Prefix(row.Text, "  - ")).Append('\n');
            foreach (var row in t.Added) sb.Append(Prefix(row.Text, "  + ")).Append('\n');
            foreach (var row in t.Changed) sb.Append(Prefix(row.Before, "  - ")).Append('\n').Append(Prefix(row.After, "  + ")).Append('\n');
        }
        return sb.ToString();
    }

    private static string Prefix(string text, string prefix) => string.Join('\n', text.Split('\n').Select(l => prefix + l));

    public static string StructuralJson(IReadOnlyList<(string Node, IReadOnlyList<TableDiff> Tables)> nodes) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("nodes");
        foreach (var (node, tables) in nodes)
        {
            w.WriteStartObject();
            w.WriteString("node", node);
            w.WriteStartArray("tables");
            foreach (var t in tables)
            {
                w.WriteStartObject();
                w.WriteString("table", t.Table);
                Rows(w, "added", t.Added.Select(x => x.Text));
                Rows(w, "removed", t.Removed.Select(x => x.Text));
                w.WriteStartArray("changed");
                foreach (var c in t.Changed)
                {
                    w.WriteStartObject();
                    w.WriteString("key", c.Key);
                    w.WriteString("before", c.Before.Trim());
                    w.WriteString("after", c.After.Trim());
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }) + "\n";

    private static void Rows(Utf8JsonWriter w, string name, IEnumerable<string> rows)
    {
        w.WriteStartArray(name);
        foreach (var r in rows) w.WriteStringValue(r.Trim());
        w.WriteEndArray();
    }
}
