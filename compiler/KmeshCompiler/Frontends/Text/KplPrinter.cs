using System.Globalization;
using System.Text;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>IR → canonical .kpl text. Top-level items in canonical order (World.Canonical), lists in
/// IR order (their order is the IR's), one field per line, two-space indentation, fields equal to
/// their default left out. Printing is a function of the IR (and the comments to keep), so
/// print(parse(print(w))) == print(w).</summary>
public static class KplPrinter
{
    public static string Print(World world) => Print(world, KplComments.None);

    public static string Print(World world, KplComments comments) =>
        Print(new KplDocument(world, [], [], comments));

    public static string Print(KplDocument doc)
    {
        var p = new Writer(doc.Comments);
        var w = doc.World.Canonical();
        foreach (var h in doc.Comments.Header) p.Raw(h);
        if (doc.Comments.Header.Count > 0) p.Blank();

        for (int i = 0; i < doc.WorldRefs.Length; i++)
            p.Line($"world[{i}]", "world " + string.Join(' ', doc.WorldRefs[i].Paths.Select(KplNames.Quote)));
        p.Section();

        foreach (var n in w.Namespaces) p.Line("namespace:" + n.Name, "namespace " + KplNames.Quote(n.Name));
        p.Section();

        foreach (var n in w.Nodes)
        {
            string path = "node:" + n.Name;
            var fields = new List<(string, string)>();
            Opt(fields, "region", n.Locality.Region);
            Opt(fields, "zone", n.Locality.Zone);
            Opt(fields, "subzone", n.Locality.Subzone);
            Opt(fields, "network", n.Network);
            p.Block(path, "node " + KplNames.Quote(n.Name), fields);
        }
        p.Section();

        foreach (var x in w.Workloads) Workload(p, x);
        p.Section();
        foreach (var s in w.Services) Service(p, s);
        p.Section();
        foreach (var pol in w.Policies) Policy(p, pol);
        p.Section();

        for (int i = 0; i < doc.Expectations.Length; i++)
        {
            if (i > 0 && doc.Comments.BlankBefore.Contains($"expect[{i}]")) p.Blank();
            p.Line($"expect[{i}]", Expectation(doc.Expectations[i]));
        }
        p.Section();
        p.Comments("eof");
        return p.ToString();
    }

    private static void Opt(List<(string, string)> fields, string name, string value)
    {
        if (value.Length > 0) fields.Add((name, KplNames.Quote(value)));
    }

    private static string QName(string ns, string name) => KplNames.Quote($"{ns}/{name}");

    private static string Join<T>(IEnumerable<T> xs, Func<T, string> f) => string.Join(' ', xs.Select(f));

    private static void Workload(Writer p, Workload x)
    {
        string path = "workload:" + x.Uid;
        var f = new List<(string, string)>();
        if (x.IsTemplate) f.Add(("kind", KplNames.Quote(x.Kind)));
        if (x.Uid != KplNames.DefaultUid(x.ClusterId, x.Namespace, x.Name, x.Kind)) f.Add(("uid", KplNames.Quote(x.Uid)));
        if (x.ServiceAccount != Ir.Workload.DefaultServiceAccount) f.Add(("service-account", KplNames.Quote(x.ServiceAccount)));
        if (x.TrustDomain != Ir.Workload.DefaultTrustDomain) f.Add(("trust-domain", KplNames.Quote(x.TrustDomain)));
        if (!x.Addresses.IsEmpty) f.Add(("addresses", Join(x.Addresses, a => a.ToString())));
        Opt(f, "node", x.Node);
        Opt(f, "network", x.Network);
        if (x.ClusterId != Ir.Workload.DefaultClusterId) f.Add(("cluster", KplNames.Quote(x.ClusterId)));
        Opt(f, "region", x.Locality.Region);
        Opt(f, "zone", x.Locality.Zone);
        Opt(f, "subzone", x.Locality.Subzone);
        if (x.Health != WorkloadHealth.Healthy) f.Add(("health", KplNames.Name(KplNames.Healths, x.Health)));
        if (x.Capacity != 1) f.Add(("capacity", x.Capacity.ToString(CultureInfo.InvariantCulture)));
        if (x.NetworkMode != NetworkMode.Standard) f.Add(("network-mode", KplNames.Name(KplNames.NetworkModes, x.NetworkMode)));
        if (!x.Enrolled) f.Add(("enrolled", "no"));
        foreach (var s in x.Services)
        {
            string line = KplNames.Quote(s.ServiceKey);
            if (!s.Ports.IsEmpty) line += " " + Join(s.Ports, KplNames.Port);
            f.Add(("serves:" + s.ServiceKey, line));
        }
        if (!x.AuthorizationPolicies.IsEmpty) f.Add(("policies", Join(x.AuthorizationPolicies, KplNames.Quote)));
        p.Block(path, "workload " + QName(x.Namespace, x.Name), f);
    }

    private static void Service(Writer p, Service s)
    {
        string path = "service:" + s.Key;
        var f = new List<(string, string)>();
        if (s.Hostname != KplNames.DefaultHostname(s.Namespace, s.Name)) f.Add(("hostname", KplNames.Quote(s.Hostname)));
        if (!s.Addresses.IsEmpty) f.Add(("addresses", Join(s.Addresses, a => KplNames.Quote(KplNames.Address(a)))));
        if (!s.Ports.IsEmpty) f.Add(("ports", Join(s.Ports, KplNames.Port)));
        var lb = s.LoadBalancing;
        if (lb.Mode != LbMode.Unspecified || !lb.RoutingPreference.IsEmpty)
        {
            string v = KplNames.Name(KplNames.Modes, lb.Mode);
            if (!lb.RoutingPreference.IsEmpty) v += " " + Join(lb.RoutingPreference, x => KplNames.Name(KplNames.LbScopes, x));
            f.Add(("load-balancing", v));
        }
        if (lb.HealthPolicy != HealthPolicy.OnlyHealthy) f.Add(("health-policy", KplNames.Name(KplNames.HealthPolicies, lb.HealthPolicy)));
        p.Block(path, "service " + QName(s.Namespace, s.Name), f);
    }

    private static void Policy(Writer p, Policy pol)
    {
        string path = "policy:" + pol.Key;
        p.Open(path, $"policy {QName(pol.Namespace, pol.Name)} {KplNames.Action(pol.Action)}");
        p.Line(path + "/scope", "scope " + KplNames.Scope(pol.Scope));
        if (pol.DryRun) p.Line(path + "/dry-run", "dry-run");
        for (int r = 0; r < pol.Rules.Length; r++)
        {
            string rp = $"{path}/rule[{r}]";
            var rule = pol.Rules[r];
            if (rule.Clauses.IsEmpty && !p.HasInner(rp)) { p.Line(rp, "rule {}"); continue; }
            p.Open(rp, "rule");
            for (int c = 0; c < rule.Clauses.Length; c++)
            {
                string cp = $"{rp}/clause[{c}]";
                var clause = rule.Clauses[c];
                if (clause.Matches.Length == 1 && !p.HasComments(cp + "/}"))
                {
                    // The one-match clause is written as the match alone; keep the clause's comments.
                    p.Comments(cp);
                    Match(p, clause.Matches[0], cp + "/match[0]", p.TrailingOf(cp));
                    continue;
                }
                if (clause.Matches.IsEmpty && !p.HasInner(cp)) { p.Line(cp, "clause {}"); continue; }
                p.Open(cp, "clause");
                for (int m = 0; m < clause.Matches.Length; m++) Match(p, clause.Matches[m], $"{cp}/match[{m}]", null);
                p.Close(cp);
            }
            p.Close(rp);
        }
        p.Close(path);
    }

    private static void Match(Writer p, Match m, string path, string? extraTrailing)
    {
        var f = new List<(string, string)>();
        void Add<T>(string name, System.Collections.Immutable.ImmutableArray<T> xs, Func<T, string> show)
        {
            if (!xs.IsEmpty) f.Add((name, Join(xs, show)));
        }
        Add("namespaces", m.Namespaces, KplNames.StringMatch);
        Add("not-namespaces", m.NotNamespaces, KplNames.StringMatch);
        Add("principals", m.Principals, KplNames.StringMatch);
        Add("not-principals", m.NotPrincipals, KplNames.StringMatch);
        Add("service-accounts", m.ServiceAccounts, a => KplNames.Quote(a.ToString()));
        Add("not-service-accounts", m.NotServiceAccounts, a => KplNames.Quote(a.ToString()));
        Add("source-ips", m.SourceIps, KplNames.Prefix);
        Add("not-source-ips", m.NotSourceIps, KplNames.Prefix);
        Add("destination-ips", m.DestinationIps, KplNames.Prefix);
        Add("not-destination-ips", m.NotDestinationIps, KplNames.Prefix);
        Add("ports", m.DestinationPorts, x => x.ToString(CultureInfo.InvariantCulture));
        Add("not-ports", m.NotDestinationPorts, x => x.ToString(CultureInfo.InvariantCulture));
        p.Block(path, "match", f, alwaysBraces: true, extraTrailing);
    }

    public static string Expectation(KplExpectation e) => e switch
    {
        ConnectionExpectation c => "expect connection from " + KplNames.Quote(c.Source)
            + (c.Identity is not null ? " identity " + KplNames.Quote(c.Identity) : c.Plaintext ? " plaintext" : "")
            + " to " + KplNames.Quote(c.Destination) + " port " + c.Port.ToString(CultureInfo.InvariantCulture)
            + (c.Allowed ? " allowed" : " denied") + (c.Policy is not null ? " by " + KplNames.Quote(c.Policy) : ""),
        LbExpectation l => "expect lb from node " + KplNames.Quote(l.Node) + " service " + KplNames.Quote(l.Service)
            + " port " + l.Port.ToString(CultureInfo.InvariantCulture) + " reaches "
            + (l.Workloads.IsEmpty ? "nothing" : Join(l.Workloads, KplNames.Quote)),
        _ => throw new ArgumentOutOfRangeException(nameof(e)),
    };

    /// <summary>Lines, indentation, blank lines between blocks and sections, and comments.</summary>
    private sealed class Writer(KplComments comments)
    {
        private readonly StringBuilder _sb = new();
        private int _indent;
        private bool _sectionHasContent;
        private bool _lastWasBlock;
        private bool _pendingBlank;

        public override string ToString() => _sb.ToString();

        public void Raw(string s) => _sb.Append(s).Append('\n');

        public void Blank() => _sb.Append('\n');

        /// <summary>Ends a group of top-level items: the next item starts after a blank line.</summary>
        public void Section()
        {
            if (_sectionHasContent) _pendingBlank = true;
            _sectionHasContent = false;
            _lastWasBlock = false;
        }

        private void BeforeTopLevel(bool block)
        {
            if (_indent != 0) return;
            if (_pendingBlank || (block || _lastWasBlock) && _sectionHasContent) Blank();
            _pendingBlank = false;
            _sectionHasContent = true;
            _lastWasBlock = block;
        }

        public bool HasInner(string path)
        {
            // Comments inside an element need its long form to have somewhere to go.
            string inner = path + "/";
            foreach (var k in comments.Leading.Keys) if (k.StartsWith(inner, StringComparison.Ordinal)) return true;
            foreach (var k in comments.Trailing.Keys) if (k.StartsWith(inner, StringComparison.Ordinal)) return true;
            return false;
        }

        public bool HasComments(string path) => comments.Leading.ContainsKey(path) || comments.Trailing.ContainsKey(path);

        public string? TrailingOf(string path) => comments.Trailing.GetValueOrDefault(path);

        public void Comments(string path)
        {
            if (comments.Leading.TryGetValue(path, out var lines))
                foreach (var l in lines) Indent().Append(l).Append('\n');
        }

        private StringBuilder Indent() => _sb.Append(' ', _indent * 2);

        private void Emit(string path, string text, string? extraTrailing = null)
        {
            Comments(path);
            Indent().Append(text);
            var t = comments.Trailing.GetValueOrDefault(path) ?? extraTrailing;
            if (t is not null) _sb.Append("  ").Append(t);
            _sb.Append('\n');
        }

        public void Line(string path, string text)
        {
            BeforeTopLevel(false);
            Emit(path, text);
        }

        public void Open(string path, string header, string? extraTrailing = null)
        {
            BeforeTopLevel(true);
            Emit(path, header + " {", extraTrailing);
            _indent++;
        }

        public void Close(string path)
        {
            Comments(path + "/}");
            _indent--;
            Indent().Append("}\n");
        }

        /// <summary>A header and its field lines; without fields, the header alone (or "header {}").</summary>
        public void Block(string path, string header, List<(string Key, string Value)> fields, bool alwaysBraces = false, string? extraTrailing = null)
        {
            if (fields.Count == 0 && !HasInner(path))
            {
                BeforeTopLevel(alwaysBraces);
                Emit(path, alwaysBraces ? header + " {}" : header, extraTrailing);
                return;
            }
            Open(path, header, extraTrailing);
            foreach (var (key, value) in fields)
            {
                int colon = key.IndexOf(':');
                string name = colon < 0 ? key : key[..colon];
                Emit(path + "/" + key, name + " " + value);
            }
            Close(path);
        }
    }
}
