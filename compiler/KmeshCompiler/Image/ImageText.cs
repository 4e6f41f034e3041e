using System.Globalization;
using System.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Lowering;

namespace KmeshCompiler.Image;

/// <summary>The text rendering of an image: every table in image order, ids resolved to names
/// (policies, workloads, services), sets shown by their members. What golden files hold, what
/// <c>kmeshc inspect</c> and <c>kmeshc compile --text</c> print, and what <c>kmeshc dump</c> prints
/// for live maps.</summary>
public static class ImageText
{
    public static string Render(ImageFile image) => Render(new ImageTables(image));

    public static string Render(ImageTables t)
    {
        var img = t.Image;
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(s).Append('\n');
        string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        string Policy(uint id) => img.Name(NameKind.Policy, id) is { } n ? Inv($"{n}") : Inv($"#{id}");
        string Workload(uint id) => img.Name(NameKind.Workload, id) ?? Inv($"#{id}");
        string Ids(uint first, uint count)
        {
            var ids = new List<string>();
            for (uint i = 0; i < count; i++) ids.Add(ImageTables.At(t.Lists, first + i) is { } v ? v.ToString(CultureInfo.InvariantCulture) : "?");
            return "[" + string.Join(' ', ids) + "]";
        }
        IEnumerable<uint> ListIds(uint first, uint count)
        {
            for (uint i = 0; i < count; i++) if (ImageTables.At(t.Lists, first + i) is { } v) yield return v;
        }
        string Header(string map, int count) => Inv($"{map} ({count} {(count == 1 ? "entry" : "entries")})");

        Line(Inv($"image for node {img.Node}"));
        Line(Inv($"format {ImageFile.FormatVersion}, table layout {img.AbiHash[..16]}"));

        Line("");
        Line(Header(Layout.MapWorkloads, t.Workloads.Count));
        foreach (var (addr, w) in t.Workloads)
            Line(Inv($"  {addr} -> workload {w.WorkloadId} {Workload(w.WorkloadId)}, eval {w.EvalId}"));

        Line("");
        Line(Header(Layout.MapPortIndex, t.PortIndex.Count));
        foreach (var ((wid, port), eval) in t.PortIndex)
            Line(Inv($"  {Workload(wid)} port {port} -> eval {eval}"));

        Line("");
        Line(Header(Layout.MapEvals, t.Evals.Length));
        for (uint i = 0; i < t.Evals.Length; i++)
        {
            var e = t.Evals[i];
            string flags = (e.Flags & Layout.EvalBlock) != 0 ? "shared block" : (e.Flags & Layout.EvalHasAllow) != 0 ? "has-allow" : "no-allow";
            string shared = e.Shared != 0 ? Inv($"; then shared block {e.Shared - 1}") : "";
            Line(Inv($"  eval {i}: {flags}; matches {Ids(e.MatchFirst, e.MatchCount)} clauses {Ids(e.ClauseFirst, e.ClauseCount)} rules {Ids(e.RuleFirst, e.RuleCount)}{shared}"));
            Line(Inv($"    policies: {(e.PolicyCount == 0 ? "(none)" : string.Join(", ", ListIds(e.PolicyFirst, e.PolicyCount).Select(Policy)))}"));
        }

        Line("");
        Line(Header(Layout.MapLists, t.Lists.Length));
        for (int i = 0; i < t.Lists.Length; i += 16)
            Line(Inv($"  {i,6}: {string.Join(' ', t.Lists.Skip(i).Take(16))}"));

        Line("");
        Line(Header(Layout.MapPolicies, t.Policies.Length));
        for (uint i = 0; i < t.Policies.Length; i++)
        {
            var p = t.Policies[i];
            string action = p.Action == Layout.ActionDeny ? "DENY" : p.Action == Layout.ActionAllow ? "ALLOW" : Inv($"action {p.Action}");
            string dry = (p.Flags & Layout.PolicyDryRun) != 0 ? " dry-run" : "";
            string rules = p.RulesCount == 0 ? "no rules (never matches)" : Inv($"rules {Ids(p.RulesFirst, p.RulesCount)}");
            Line(Inv($"  policy {i} {Policy(i)}: {action}{dry}, {rules}"));
        }

        Line("");
        Line(Header(Layout.MapRules, t.Rules.Length));
        for (uint i = 0; i < t.Rules.Length; i++)
        {
            var r = t.Rules[i];
            Line(Inv($"  rule {i}: ") + (r.Count == 0 ? "no clauses (always matches)" : Inv($"all of clauses {Ids(r.First, r.Count)}")));
        }

        Line("");
        Line(Header(Layout.MapClauses, t.Clauses.Length));
        for (uint i = 0; i < t.Clauses.Length; i++)
        {
            var c = t.Clauses[i];
            Line(Inv($"  clause {i}: ") + (c.Count == 0 ? "no matches (always matches)" : Inv($"any of matches {Ids(c.First, c.Count)}")));
        }

        Line("");
        Line(Header(Layout.MapMatches, t.Matches.Length));
        for (uint i = 0; i < t.Matches.Length; i++) Line(Inv($"  match {i}: {Match(t, t.Matches[i])}"));

        Line("");
        Line(Header(Layout.MapAddrSets, t.AddrSets.Values.Sum(l => l.Count)));
        foreach (var (id, prefixes) in t.AddrSets)
            Line(Inv($"  set {id}: {string.Join(", ", prefixes)}"));

        Line("");
        Line(Header(Layout.MapPortSets, t.PortSets.Values.Sum(l => l.Count)));
        foreach (var (id, ports) in t.PortSets)
            Line(Inv($"  set {id}: {string.Join(", ", ports)}"));

        Line("");
        Line(Header(Layout.MapIdentities, t.Identities.Count));
        foreach (var (addr, id) in t.Identities.OrderBy(kv => kv.Key))
            Line(Inv($"  {addr} -> identity {Identity(t, id.Id)}, namespace {Namespace(t, id.Ns)}, class {id.Cls}"));

        Line("");
        Line(Header(Layout.MapIdSets, t.IdSets.Values.Sum(l => l.Count)));
        foreach (var (id, members) in t.IdSets)
            Line(Inv($"  set {id}: {IdMembers(t, id)}"));

        Line("");
        Line(Header(Layout.MapDecisions, t.Decisions.Count));
        foreach (var d in t.Decisions.Entries)
        {
            string to = t.Workloads.TryGetValue(d.Dst, out var dw) ? Inv($"{d.Dst} ({Workload(dw.WorkloadId)})") : Inv($"{d.Dst} (not a local workload)");
            string from = d.Class is { } cls ? (cls == 0 ? "identities of any other class" : Inv($"identities of class {cls}")) : Inv($"{d.Src} without identity");
            Line(Inv($"  {to} {(d.Port == Layout.DecisionOtherPort ? "other ports" : Inv($"port {d.Port}"))}: from {from} -> {Decision(d.Value, Policy)}"));
        }

        Line("");
        Line(Inv($"{Layout.MapDecisionIndex}:"));
        ref readonly var ix = ref t.Decisions.Index;
        foreach (bool v6 in new[] { false, true })
        {
            var lengths = ix.LengthsOf(v6);
            Line(Inv($"  {(v6 ? "IPv6" : "IPv4")} source lengths probed: {(lengths.Count == 0 ? "(none)" : string.Join(' ', lengths.Select(l => Inv($"/{l}"))))}"));
        }
        var keyed = Enumerable.Range(0, 65536).Where(p => t.Decisions.Index.HasPort((uint)p)).Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Line(Inv($"  ports keyed by port: {(keyed.Count == 0 ? "(none)" : string.Join(", ", keyed))}"));
        var coverage = DecisionCoverage.Of(t);
        Line(Inv($"  coverage: {coverage.Covered} of {coverage.Evals} evals decided by the table ({coverage.Percent:0.0}%)"));
        int localBits = ix.LocalBitsSet();
        Line((ix.Flags & Layout.IndexLocalFilter) != 0
            ? Inv($"  local-address filter: {localBits} of 65536 bits set")
            : "  local-address filter: off");

        Line("");
        Line(Header(Layout.MapServices, t.Services.Count));
        foreach (var ((addr, port), s) in t.Services)
        {
            string name = img.Name(NameKind.Service, s.ServiceId) ?? Inv($"#{s.ServiceId}");
            var counts = Rows.Counts(s);
            string mode = s.Mode switch
            {
                Layout.LbUnspecified => "unspecified",
                Layout.LbStrict => "strict",
                Layout.LbFailover => "failover",
                Layout.LbPassthrough => "passthrough",
                _ => Inv($"mode {s.Mode}"),
            };
            string prios = string.Join(' ', counts.Select((c, p) => (c, p)).Where(x => x.c > 0).Select(x => Inv($"p{x.p}={x.c}")));
            Line(Inv($"  {Endpoint(addr, port)} -> service {s.ServiceId} {name}, {mode}, slots {(prios.Length == 0 ? "(none)" : prios)}"));
        }

        Line("");
        Line(Header(Layout.MapEndpoints, t.Endpoints.Count));
        foreach (var ((sid, prio, index), bid) in t.Endpoints)
            Line(Inv($"  service {sid} priority {prio} slot {index} -> backend {bid}"));

        Line("");
        Line(Header(Layout.MapBackends, t.Backends.Count));
        foreach (var (i, backend) in t.Backends)
        {
            var (a, port) = Rows.Backend(backend);
            // Backends carry no name of their own (a cluster has millions): the address's identity says whose.
            string owner = t.Identities.TryGetValue(a, out var id) ? "(" + Identity(t, id.Id) + ")" : img.Name(NameKind.Backend, i) ?? "";
            Line(Inv($"  backend {i}: {Endpoint(a, port)} {owner}").TrimEnd());
        }
        return sb.ToString();
    }

    private static string Identity(ImageTables t, uint id) =>
        id == 0 ? "(none)" : t.Image.Name(NameKind.Identity, id) ?? "#" + id.ToString(CultureInfo.InvariantCulture);

    private static string Namespace(ImageTables t, uint ns) =>
        ns == 0 ? "(none)" : t.Image.Name(NameKind.Namespace, ns) ?? "#" + ns.ToString(CultureInfo.InvariantCulture);

    /// <summary>A km_id_sets set by its members, named as identities or namespaces as the matches that
    /// test it say; member 0 is "no identity".</summary>
    private static string IdMembers(ImageTables t, uint set)
    {
        bool byNs = t.NamespaceIdSets.Contains(set);
        var members = t.IdSets.GetValueOrDefault(set) ?? [];
        return "{" + Abbreviate(members.Select(m => m == 0 ? "(no identity)" : byNs ? "namespace " + Namespace(t, m) : Identity(t, m)), "members") + "}";
    }

    private static unsafe string Decision(KmeshDecision d, Func<uint, string> policy)
    {
        if ((d.Flags & Layout.DecisionStages) != 0) return "evaluate by the stages";
        string verdict = d.Verdict switch
        {
            Layout.VerdictAllowPolicy => "ALLOW by " + policy(d.PolicyId),
            Layout.VerdictAllowNoAllow => "ALLOW (no ALLOW policy)",
            Layout.VerdictDenyPolicy => "DENY by " + policy(d.PolicyId),
            Layout.VerdictDenyNoneAllow => "DENY (no ALLOW policy matched)",
            _ => "verdict " + d.Verdict.ToString(CultureInfo.InvariantCulture),
        };
        var counted = new List<string>();
        for (int i = 0; i < Math.Min((int)d.Count, Layout.DecisionMaxMatched); i++)
            counted.Add(policy(d.Matched[i] & ~Layout.DecisionDryRun) + ((d.Matched[i] & Layout.DecisionDryRun) != 0 ? " (dry-run)" : ""));
        string result = counted.Count == 0 ? verdict : verdict + "; matched " + string.Join(", ", counted);
        return d.StagePorts == 0 ? result : result + "; ports of port set " + d.StagePorts.ToString(CultureInfo.InvariantCulture) + " take the stages";
    }

    private static string Endpoint(IpAddr a, uint port) =>
        a.IsV6 ? $"[{a}]:{port.ToString(CultureInfo.InvariantCulture)}" : $"{a}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static string Match(ImageTables t, KmeshMatch m)
    {
        if ((m.Flags & Layout.MatchNever) != 0) return "never matches";
        var parts = new List<string>();
        string Set(uint id) => t.AddrSets.TryGetValue(id, out var l)
            ? $"set {id.ToString(CultureInfo.InvariantCulture)} {{{Abbreviate(l.Select(p => p.ToString()))}}}"
            : $"set {id.ToString(CultureInfo.InvariantCulture)} {{}}";
        string Ports(uint id) => t.PortSets.TryGetValue(id, out var l)
            ? $"{{{string.Join(", ", l)}}}"
            : "{}";
        if (m.SrcSet != 0) parts.Add("source in " + Set(m.SrcSet));
        if (m.NotSrcSet != 0) parts.Add("source not in " + Set(m.NotSrcSet));
        if (m.DstSet != 0) parts.Add("destination in " + Set(m.DstSet));
        if (m.NotDstSet != 0) parts.Add("destination not in " + Set(m.NotDstSet));
        if (m.PortSet != 0) parts.Add("port in " + Ports(m.PortSet));
        if (m.NotPortSet != 0) parts.Add("port not in " + Ports(m.NotPortSet));
        if (m.IdSet != 0)
        {
            string what = (m.Flags & Layout.MatchIdByNs) != 0 ? "namespace" : "identity";
            parts.Add(Inv2($"{what} {((m.Flags & Layout.MatchIdNegate) != 0 ? "not in" : "in")} id set {m.IdSet} {IdMembers(t, m.IdSet)}"));
        }
        return parts.Count == 0 ? "always matches" : string.Join("; ", parts);
    }

    private static string Inv2(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);

    private static string Abbreviate(IEnumerable<string> items, string what = "prefixes")
    {
        var l = items.ToList();
        return l.Count <= 8 ? string.Join(", ", l) : string.Join(", ", l.Take(8)) + $", ... ({l.Count.ToString(CultureInfo.InvariantCulture)} {what})";
    }
}
