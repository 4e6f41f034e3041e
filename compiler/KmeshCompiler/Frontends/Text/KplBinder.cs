using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Antlr4.Runtime;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Text.Syntax;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>Parse tree → IR. Field lines are generic in the grammar; this is where their names and
/// values are checked, with a located diagnostic for each problem. Binding goes on after an error so
/// one run reports everything.</summary>
internal sealed class KplBinder
{
    private readonly string _file;
    private readonly DiagnosticBag _bag;
    private readonly CommonTokenStream _tokens;
    private readonly string _source;
    private readonly bool _hasComments;
    private readonly KplComments _comments = new();
    private readonly HashSet<int> _usedComments = new();

    private readonly List<Namespace> _namespaces = new();
    private readonly List<Node> _nodes = new();
    private readonly List<Workload> _workloads = new();
    private readonly List<Service> _services = new();
    private readonly List<Policy> _policies = new();
    private readonly List<KplWorldRef> _worldRefs = new();
    private readonly List<KplExpectation> _expectations = new();
    private readonly Dictionary<string, int> _seen = new(StringComparer.Ordinal);

    private bool _first = true;

    /// <summary>A binder for one file; <paramref name="tokens"/> must be filled (comments are read
    /// from it).</summary>
    public KplBinder(string file, string source, CommonTokenStream tokens, DiagnosticBag bag)
    {
        _file = file;
        _bag = bag;
        _tokens = tokens;
        _source = source;
        for (int i = 0; i < _tokens.Size && !_hasComments; i++) _hasComments = _tokens.Get(i).Type == KplLexer.COMMENT;
    }

    /// <summary>Ends the file: attaches the last comments and returns what was bound.</summary>
    public KplDocument Finish()
    {
        if (_tokens.Size > 0) Leading(_tokens.Get(_tokens.Size - 1), "eof", header: _first);
        if (_hasComments)
            for (int i = 0; i < _tokens.Size; i++)
            {
                var t = _tokens.Get(i);
                if (t.Type == KplLexer.COMMENT && !_usedComments.Contains(i)) _comments.Orphans.Add(Loc(t));
            }
        var world = new World([.. _namespaces], [.. _nodes], [.. _workloads], [.. _services], [.. _policies]).Canonical();
        return new KplDocument(world, [.. _worldRefs], [.. _expectations], _comments);
    }

    // ---------------------------------------------------------------------------------------------
    // Statements

    public void BindLine(KplParser.LineContext line)
    {
        {
            if (line.junk() is { } junk)
            {
                Junk(junk);
                return;
            }
            if (line.statement() is not { } s) return;
            string? path = s.GetChild(0) switch
            {
                KplParser.NamespaceDeclContext c => BindNamespace(c),
                KplParser.NodeDeclContext c => BindNode(c),
                KplParser.WorkloadDeclContext c => BindWorkload(c),
                KplParser.ServiceDeclContext c => BindService(c),
                KplParser.PolicyDeclContext c => BindPolicy(c),
                KplParser.WorldDeclContext c => BindWorld(c),
                KplParser.ExpectDeclContext c => BindExpect(c),
                _ => null,
            };
            if (path is not null)
            {
                bool blankAbove = Leading(s.Start, path, header: _first);
                if (blankAbove && path.StartsWith("expect[", StringComparison.Ordinal)) _comments.BlankBefore.Add(path);
                Trailing(s.Stop, path);
            }
            _first = false;
        }
    }

    private int _errors;
    private HashSet<SourceLocation>? _syntaxErrors;

    /// <summary>Adds a diagnostic unless this file has already had too many (bounded output for
    /// inputs that are not .kpl at all).</summary>
    private void Report(DiagnosticDescriptor d, SourceLocation loc, params object?[] args)
    {
        _errors++;
        if (_errors <= KplSyntax.MaxErrors) _bag.Add(d, loc, args);
        else if (_errors == KplSyntax.MaxErrors + 1) _bag.Add(Codes.KplTooManyErrors, loc, KplSyntax.MaxErrors);
    }

    private string? Unique(string kind, string key, IToken at)
    {
        string k = kind + ":" + key;
        if (_seen.TryGetValue(k, out int line))
        {
            Report(Codes.KplDuplicate, Loc(at), kind, key, line);
            return null;
        }
        _seen[k] = at.Line;
        return k;
    }

    private string? BindNamespace(KplParser.NamespaceDeclContext c)
    {
        string name = Text(c.name);
        var path = Unique("namespace", name, c.Start);
        if (path is null) return null;
        _namespaces.Add(new Namespace(name, Loc(c.Start)));
        return path;
    }

    private string? BindNode(KplParser.NodeDeclContext c)
    {
        string name = Text(c.name);
        var fields = Fields(c.body(), "a node", NodeFields);
        string region = fields.One("region"), zone = fields.One("zone"), subzone = fields.One("subzone"), network = fields.One("network");
        var path = Unique("node", name, c.Start);
        if (path is null) return null;
        _nodes.Add(new Node(name, new Locality(region, zone, subzone), network, Loc(c.Start)));
        fields.Comments(this, path, c.body());
        return path;
    }

    private static readonly string[] NodeFields = ["region", "zone", "subzone", "network"];

    private static readonly string[] WorkloadFields =
        ["kind", "uid", "service-account", "trust-domain", "addresses", "node", "network", "cluster", "region", "zone", "subzone", "health", "capacity", "network-mode", "enrolled", "serves", "policies"];

    private string? BindWorkload(KplParser.WorkloadDeclContext c)
    {
        var (ns, name) = QName(c.qname());
        var f = Fields(c.body(), "a workload", WorkloadFields, repeatable: "serves");
        string cluster = f.Has("cluster") ? f.One("cluster") : Workload.DefaultClusterId;
        string kind = f.Has("kind") ? f.One("kind") : Workload.PodKind;
        string uid = f.Has("uid") ? f.One("uid") : KplNames.DefaultUid(cluster, ns, name, kind);
        var addresses = f.List("addresses", v => Parse<IpAddr>(v, IpAddr.TryParse));
        var health = f.Has("health") ? f.Enum("health", KplNames.Healths, WorkloadHealth.Healthy) : WorkloadHealth.Healthy;
        uint capacity = f.Has("capacity") ? f.Scalar("capacity", v => Number(v, "capacity"), 1u) : 1u;
        var services = ImmutableArray.CreateBuilder<WorkloadServicePorts>();
        foreach (var line in f.All("serves"))
        {
            if (line.Values.Length == 0) { Report(Codes.KplArity, Loc(line.Name), "serves", "a service key (namespace/hostname) and its ports", "nothing"); continue; }
            var ports = ImmutableArray.CreateBuilder<ServicePort>();
            foreach (var v in line.Values.Skip(1)) if (ParseServicePort(v) is { } p) ports.Add(p);
            services.Add(new WorkloadServicePorts(Plain(line.Values[0]), ports.ToImmutable()));
        }
        var wl = new Workload(uid, name, ns,
            f.Has("service-account") ? f.One("service-account") : Workload.DefaultServiceAccount,
            f.Has("trust-domain") ? f.One("trust-domain") : Workload.DefaultTrustDomain,
            addresses, f.One("node"), f.One("network"), cluster,
            new Locality(f.One("region"), f.One("zone"), f.One("subzone")),
            health, capacity, services.ToImmutable(), f.Refs("policies", v => (string?)Plain(v)), Loc(c.Start),
            f.Has("network-mode") ? f.Enum("network-mode", KplNames.NetworkModes, NetworkMode.Standard) : NetworkMode.Standard,
            !f.Has("enrolled") || f.Enum("enrolled", KplNames.YesNo, true), kind);
        var path = Unique("workload", uid, c.Start);
        if (path is null) return null;
        _workloads.Add(wl);
        f.Comments(this, path, c.body());
        return path;
    }

    private static readonly string[] ServiceFields = ["hostname", "addresses", "ports", "load-balancing", "health-policy"];

    private string? BindService(KplParser.ServiceDeclContext c)
    {
        var (ns, name) = QName(c.qname());
        var f = Fields(c.body(), "a service", ServiceFields);
        string hostname = f.Has("hostname") ? f.One("hostname") : KplNames.DefaultHostname(ns, name);
        var lb = LoadBalancing.Default;
        if (f.Get("load-balancing") is { } lbLine)
        {
            if (lbLine.Values.Length == 0)
                Report(Codes.KplArity, Loc(lbLine.Name), "load-balancing", "a mode (unspecified, strict, failover, passthrough) and scopes", "nothing");
            else
            {
                var mode = EnumValue(lbLine.Values[0], KplNames.Modes, "load-balancing mode", LbMode.Unspecified);
                var scopes = ImmutableArray.CreateBuilder<LbScope>();
                foreach (var v in lbLine.Values.Skip(1)) scopes.Add(EnumValue(v, KplNames.LbScopes, "load-balancing scope", LbScope.Unspecified));
                lb = lb with { Mode = mode, RoutingPreference = scopes.ToImmutable() };
            }
        }
        if (f.Has("health-policy")) lb = lb with { HealthPolicy = f.Enum("health-policy", KplNames.HealthPolicies, HealthPolicy.OnlyHealthy) };
        var svc = new Service(name, ns, hostname,
            f.Refs("addresses", ParseNetworkAddress),
            f.Refs("ports", ParseServicePort),
            lb, Loc(c.Start));
        var path = Unique("service", svc.Key, c.Start);
        if (path is null) return null;
        _services.Add(svc);
        f.Comments(this, path, c.body());
        return path;
    }

    private static readonly string[] PolicyFields = ["scope", "dry-run"];

    private string? BindPolicy(KplParser.PolicyDeclContext c)
    {
        var (ns, name) = QName(c.qname());
        string actionText = Text(c.action);
        PolicyAction action = PolicyAction.Allow;
        if (actionText == "deny") action = PolicyAction.Deny;
        else if (actionText != "allow")
            Report(Codes.KplBadValue, Loc(c.action.Start), $"'{actionText}' is not a policy action; write 'allow' or 'deny' after the policy name (AUDIT and CUSTOM are not enforced at L4)");
        if (c.policyBody() is not { } body) return null;
        var members = body.policyMember();
        var f = new FieldSet(this, "a policy", PolicyFields, null, members.Where(m => m.field() is not null).Select(m => m.field()));
        var scope = f.Has("scope") ? f.Enum("scope", KplNames.Scopes, PolicyScope.Namespace) : PolicyScope.Namespace;
        bool dryRun = false;
        if (f.Get("dry-run") is { } dr)
        {
            if (dr.Values.Length == 0) dryRun = true;
            else dryRun = f.Scalar("dry-run", v => Plain(v) switch { "true" => true, "false" => (bool?)false, _ => Bad<bool?>(v, "dry-run takes 'true' or 'false' (or nothing, meaning true)") }, false);
        }
        var key = $"{ns}/{name}";
        var path = "policy:" + key;
        var rules = ImmutableArray.CreateBuilder<Rule>();
        foreach (var m in members)
            if (m.ruleDecl() is { } r) rules.Add(BindRule(r, $"{path}/rule[{rules.Count}]"));
        var policy = new Policy(name, ns, scope, action, dryRun, rules.ToImmutable(), Loc(c.Start));
        if (Unique("policy", key, c.Start) is null) return null;
        _policies.Add(policy);
        f.Comments(this, path, null);
        Trailing(body.Start, path);
        Leading(body.Stop, path + "/}", false);
        return path;
    }

    private Rule BindRule(KplParser.RuleDeclContext r, string path)
    {
        var clauses = ImmutableArray.CreateBuilder<Clause>();
        foreach (var m in r.ruleMember())
        {
            string cp = $"{path}/clause[{clauses.Count}]";
            if (m.clauseDecl() is { } cd)
            {
                var matches = ImmutableArray.CreateBuilder<Match>();
                foreach (var md in cd.matchDecl()) matches.Add(BindMatch(md, $"{cp}/match[{matches.Count}]"));
                clauses.Add(new Clause(matches.ToImmutable(), Loc(cd.Start)));
                Leading(cd.Start, cp, false);
                Trailing(cd.GetToken(KplLexer.LBRACE, 0)?.Symbol, cp);
                Trailing(cd.Stop, cp);
                Leading(cd.Stop, cp + "/}", false);
            }
            else if (m.matchDecl() is { } md)
            {
                // A match directly in a rule is a clause holding just that match.
                clauses.Add(new Clause([BindMatch(md, cp + "/match[0]")], Loc(md.Start)));
            }
        }
        Leading(r.Start, path, false);
        Trailing(r.GetToken(KplLexer.LBRACE, 0)?.Symbol, path);
        Trailing(r.Stop, path);
        Leading(r.Stop, path + "/}", false);
        return new Rule(clauses.ToImmutable(), Loc(r.Start));
    }

    internal static readonly string[] MatchFields =
    [
        "namespaces", "not-namespaces", "principals", "not-principals", "source-ips", "not-source-ips",
        "destination-ips", "not-destination-ips", "ports", "not-ports", "service-accounts", "not-service-accounts",
    ];

    private Match BindMatch(KplParser.MatchDeclContext md, string path)
    {
        var f = Fields(md.body(), "a match", MatchFields);
        var m = new Match(
            f.Refs("namespaces", ParseStringMatch), f.Refs("not-namespaces", ParseStringMatch),
            f.Refs("principals", ParseStringMatch), f.Refs("not-principals", ParseStringMatch),
            f.List("source-ips", ParsePrefix), f.List("not-source-ips", ParsePrefix),
            f.List("destination-ips", ParsePrefix), f.List("not-destination-ips", ParsePrefix),
            f.List("ports", v => Number(v, "port")), f.List("not-ports", v => Number(v, "port")),
            f.Refs("service-accounts", ParseServiceAccount), f.Refs("not-service-accounts", ParseServiceAccount),
            Loc(md.Start));
        Leading(md.Start, path, false);
        Trailing(md.body()?.Start, path);
        Trailing(md.Stop, path);
        f.Comments(this, path, md.body());
        return m;
    }

    private string? BindWorld(KplParser.WorldDeclContext c)
    {
        _worldRefs.Add(new KplWorldRef([.. c.text().Select(Text)], Loc(c.Start)));
        return $"world[{_worldRefs.Count - 1}]";
    }

    private string? BindExpect(KplParser.ExpectDeclContext c)
    {
        // After a syntax error, parts of an expectation may be missing: it was reported, skip it.
        if (c.connectionExpect() is { } ce && ce.src is not null && ce.dst is not null && ce.port is not null && ce.verdict is not null)
        {
            uint port = Number(ValOf(ce.port), "port") ?? 0;
            _expectations.Add(new ConnectionExpectation(
                Text(ce.src), ce.identity is null ? null : Text(ce.identity), ce.PLAINTEXT() is not null,
                Text(ce.dst), port, ce.verdict?.Type == KplLexer.ALLOWED, ce.policy is null ? null : Text(ce.policy), Loc(c.Start)));
        }
        else if (c.lbExpect() is { } le && le.node is not null && le.service is not null && le.port is not null)
        {
            uint port = Number(ValOf(le.port), "port") ?? 0;
            _expectations.Add(new LbExpectation(Text(le.node), Text(le.service), port,
                [.. le.text().Skip(3).Select(Text)], Loc(c.Start)));
        }
        else return null;
        if (c.connectionExpect()?.identity is { } id && !Identity.TryParse(Text(id), out _))
            Report(Codes.KplBadValue, Loc(id.Start), $"'{Text(id)}' is not an identity; write TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT");
        return $"expect[{_expectations.Count - 1}]";
    }

    // ---------------------------------------------------------------------------------------------
    // Fields

    internal readonly record struct Val(string Text, string? Fn, IToken Token);

    internal sealed record FieldLine(string Key, IToken Name, Val[] Values, KplParser.FieldContext Ctx);

    private FieldSet Fields(KplParser.BodyContext? body, string what, string[] known, string? repeatable = null) =>
        new(this, what, known, repeatable, body?.field() ?? []);

    /// <summary>The field lines of one block, checked for unknown and repeated names.</summary>
    private sealed class FieldSet
    {
        private readonly KplBinder _b;
        // Blocks have a handful of fields: a list beats a dictionary here.
        private readonly List<FieldLine> _order = new();

        public FieldSet(KplBinder b, string what, string[] known, string? repeatable, IEnumerable<KplParser.FieldContext> fields)
        {
            _b = b;
            foreach (var fc in fields)
            {
                if (fc.key is null || fc.key.TokenIndex < 0) continue;
                var nameTok = fc.key;
                string key = b.Raw(nameTok);
                var values = b.Values(fc);
                if (!known.Contains(key))
                {
                    string hint = KplNames.Nearest(key, known) is { } near ? $" (did you mean '{near}'?)" : "";
                    b.Report(Codes.KplUnknownField, Loc(b._file, nameTok), key, what, hint, string.Join(", ", known));
                    continue;
                }
                var line = new FieldLine(key, nameTok, values, fc);
                if (key != repeatable && Get(key) is { } prev)
                {
                    b.Report(Codes.KplDuplicateField, Loc(b._file, nameTok), key, what.Split(' ')[^1], prev.Name.Line);
                    continue;
                }
                _order.Add(line);
            }
        }

        public bool Has(string key) => Get(key) is not null;

        public FieldLine? Get(string key)
        {
            foreach (var l in _order) if (l.Key == key) return l;
            return null;
        }

        public IEnumerable<FieldLine> All(string key) => _order.Where(l => l.Key == key);

        /// <summary>A field with exactly one value, as a plain string; "" when absent.</summary>
        public string One(string key)
        {
            if (Get(key) is not { } line) return "";
            if (line.Values.Length != 1)
            {
                _b.Report(Codes.KplArity, Loc(_b._file, line.Name), key, "one value", line.Values.Length == 0 ? "none" : $"{line.Values.Length} (quote a value that holds spaces)");
                return line.Values.Length == 0 ? "" : _b.Plain(line.Values[0]);
            }
            return _b.Plain(line.Values[0]);
        }

        public T Scalar<T>(string key, Func<Val, T?> parse, T fallback) where T : struct
        {
            if (Get(key) is not { } line) return fallback;
            if (line.Values.Length != 1)
            {
                _b.Report(Codes.KplArity, Loc(_b._file, line.Name), key, "one value", line.Values.Length.ToString(CultureInfo.InvariantCulture));
                return fallback;
            }
            return parse(line.Values[0]) ?? fallback;
        }

        public T Enum<T>(string key, (string Name, T Value)[] table, T fallback) where T : struct =>
            Scalar<T>(key, v => _b.EnumValue(v, table, key, fallback), fallback);

        public ImmutableArray<T> Refs<T>(string key, Func<Val, T?> parse) where T : class => ListCore(key, v => parse(v) is { } x ? (true, x) : (false, default!));

        public ImmutableArray<T> List<T>(string key, Func<Val, T?> parse) where T : struct => ListCore(key, v => parse(v) is { } x ? (true, x) : (false, default));

        private ImmutableArray<T> ListCore<T>(string key, Func<Val, (bool, T)> parse)
        {
            if (Get(key) is not { } line) return [];
            var b = ImmutableArray.CreateBuilder<T>(line.Values.Length);
            foreach (var v in line.Values)
            {
                var (ok, x) = parse(v);
                if (ok) b.Add(x);
            }
            return b.ToImmutable();
        }

        /// <summary>Attaches the comments of each field line and of the block's closing brace.</summary>
        public void Comments(KplBinder b, string path, KplParser.BodyContext? body)
        {
            if (!b._hasComments) return;
            foreach (var line in _order)
            {
                string p = line.Key == "serves" && line.Values.Length > 0 ? $"{path}/serves:{b.Plain(line.Values[0])}" : $"{path}/{line.Key}";
                b.Leading(line.Ctx.Start, p, false);
                b.Trailing(line.Ctx.Stop, p);
            }
            if (body is not null)
            {
                b.Trailing(body.Start, path);
                b.Leading(body.Stop, path + "/}", false);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Values

    /// <summary>A line that cannot start a statement: one diagnostic for it, then the next line.</summary>
    private void Junk(KplParser.JunkContext junk)
    {
        var t = junk.Start;
        // The parser may already have reported this spot while recovering from an error.
        _syntaxErrors ??= _bag.Items.Where(d => d.Code is "KM6001" or "KM6002" or "KM6003" && d.Location.File == _file).Select(d => d.Location).ToHashSet();
        if (_syntaxErrors.Contains(Loc(t))) return;
        switch (t.Type)
        {
            case KplLexer.UNTERMINATED: Report(Codes.KplUnterminatedString, Loc(t)); break;
            case KplLexer.BAD: Report(Codes.KplBadCharacter, Loc(t), KplSyntax.ShowChar(Raw(t))); break;
            default:
                Report(Codes.KplSyntax, Loc(t), "a statement ('namespace', 'node', 'workload', 'service', 'policy', 'world' or 'expect')", KplSyntax.Found(t));
                break;
        }
    }

    private (string Ns, string Name) QName(KplParser.QnameContext? q)
    {
        // A missing name was reported by the parser.
        if (q?.text() is null) return ("", "");
        string first = Text(q.text());
        int slash = first.IndexOf('/');
        if (slash < 0)
        {
            Report(Codes.KplBadValue, Loc(q.Start), $"'{first}' needs a namespace: write namespace/name");
            return ("", first);
        }
        return (first[..slash], first[(slash + 1)..]);
    }

    /// <summary>A field's values: its children after the name, tokens or explicit string matches.</summary>
    private Val[] Values(KplParser.FieldContext f)
    {
        int n = f.ChildCount - 1;
        if (n <= 0) return [];
        var vals = new Val[n];
        int k = 0;
        for (int i = 1; i <= n; i++)
        {
            switch (f.GetChild(i))
            {
                case KplParser.CallContext c when c.fn is not null:
                    vals[k++] = new Val(Text(c.arg), Raw(c.fn)[..^1], c.fn);
                    break;
                case Antlr4.Runtime.Tree.ITerminalNode t when t.Symbol.TokenIndex >= 0:
                    vals[k++] = new Val(TokenText(t.Symbol), null, t.Symbol);
                    break;
            }
        }
        return k == n ? vals : vals[..k];
    }

    private Val ValOf(KplParser.TextContext t) => new(Text(t), null, t.Start);

    private string Plain(Val v)
    {
        if (v.Fn is not null) Bad<string>(v, $"'{v.Fn}(...)' is only for string matches (namespaces, principals); write the value alone");
        return v.Text;
    }

    private T? Bad<T>(Val v, string message)
    {
        Report(Codes.KplBadValue, Loc(v.Token), message);
        return default;
    }

    private delegate bool TryParser<T>(string s, out T value, out string error);

    private T? Parse<T>(Val v, TryParser<T> parser) where T : struct
    {
        if (parser(Plain(v), out var x, out var err)) return x;
        Report(Codes.KplBadValue, Loc(v.Token), err);
        return null;
    }

    private IpPrefix? ParsePrefix(Val v) => Parse<IpPrefix>(v, IpPrefix.TryParse);

    private NetworkAddress? ParseNetworkAddress(Val v)
    {
        string s = Plain(v);
        int at = s.IndexOf('@');
        string addr = at < 0 ? s : s[..at];
        string net = at < 0 ? "" : s[(at + 1)..];
        if (IpAddr.TryParse(addr, out var a, out var err)) return new NetworkAddress(net, a);
        Report(Codes.KplBadValue, Loc(v.Token), err + " (a service address is ADDRESS or ADDRESS@NETWORK)");
        return null;
    }

    private uint? Number(Val v, string what)
    {
        string s = Plain(v);
        if (s.Length > 0 && s.Length <= 10 && s.All(char.IsAsciiDigit) && uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return n;
        Report(Codes.KplBadValue, Loc(v.Token), $"'{Short(s)}' is not a valid {what}: write a decimal number");
        return null;
    }

    private ServicePort? ParseServicePort(Val v)
    {
        string s = Plain(v);
        var proto = AppProtocol.Unknown;
        int slash = s.IndexOf('/');
        if (slash >= 0)
        {
            if (!KplNames.TryValue(KplNames.Protocols, s[(slash + 1)..], out proto))
            {
                Report(Codes.KplBadValue, Loc(v.Token), $"'{Short(s[(slash + 1)..])}' is not an app protocol; use one of: {string.Join(", ", KplNames.Protocols.Select(p => p.Name))}");
                return null;
            }
            s = s[..slash];
        }
        int arrow = s.IndexOf("->", StringComparison.Ordinal);
        var port = Number(v with { Text = arrow < 0 ? s : s[..arrow] }, "port (PORT, PORT->TARGET or PORT->TARGET/PROTOCOL)");
        var target = arrow < 0 ? port : Number(v with { Text = s[(arrow + 2)..] }, "target port");
        return port is { } p && target is { } t ? new ServicePort(p, t, proto) : null;
    }

    private StringMatch? ParseStringMatch(Val v)
    {
        switch (v.Fn)
        {
            case null: return KplNames.ParseIstio(v.Text);
            case "exact": return new StringMatch(StringMatchKind.Exact, v.Text);
            case "prefix": return new StringMatch(StringMatchKind.Prefix, v.Text);
            case "suffix": return new StringMatch(StringMatchKind.Suffix, v.Text);
            case "presence": return new StringMatch(StringMatchKind.Presence, v.Text);
            default:
                Report(Codes.KplBadValue, Loc(v.Token), $"'{v.Fn}' is not a string match; use exact(...), prefix(...), suffix(...) or presence(...)");
                return null;
        }
    }

    private ServiceAccountMatch? ParseServiceAccount(Val v)
    {
        string s = Plain(v);
        int slash = s.IndexOf('/');
        if (slash < 0)
        {
            Report(Codes.KplBadValue, Loc(v.Token), $"'{Short(s)}' needs its namespace: write namespace/serviceaccount");
            return null;
        }
        return new ServiceAccountMatch(s[..slash], s[(slash + 1)..]);
    }

    private T EnumValue<T>(Val v, (string Name, T Value)[] table, string what, T fallback) where T : struct
    {
        string s = Plain(v);
        if (KplNames.TryValue(table, s, out var x)) return x;
        Report(Codes.KplBadValue, Loc(v.Token), $"'{Short(s)}' is not a {what}; use one of: {string.Join(", ", table.Select(t => t.Name))}");
        return fallback;
    }

    private static string Short(string s) => s.Length > 40 ? s[..40] + "..." : s;

    /// <summary>The value of a word or quoted string, with escapes resolved.</summary>
    private string Text(KplParser.TextContext? t) => t is null ? "" : TokenText(t.Start);

    private string TokenText(IToken tok)
    {
        if (tok.Type != KplLexer.STRING) return Raw(tok);
        string s = Raw(tok);
        if (s.Length < 2) return ""; // a token the parser's recovery made up
        var body = s.AsSpan(1, s.Length - 2);
        if (body.IndexOf('\\') < 0) return body.ToString();
        var sb = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c != '\\' || i + 1 >= body.Length) { sb.Append(c); continue; }
            char e = body[++i];
            switch (e)
            {
                case '\\': sb.Append('\\'); break;
                case '"': sb.Append('"'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u' when i + 4 < body.Length && ushort.TryParse(body.Slice(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var u):
                    sb.Append((char)u);
                    i += 4;
                    break;
                default:
                    Report(Codes.KplBadEscape, new SourceLocation(_file, tok.Line, tok.Column + 2 + i - 1), "\\" + e);
                    sb.Append(e);
                    break;
            }
        }
        return sb.ToString();
    }

    // ---------------------------------------------------------------------------------------------
    // Locations and comments

    private SourceLocation Loc(IToken t) => Loc(_file, t);

    /// <summary>A token's text, cut from the source (ANTLR's own Text builds it char by char).</summary>
    private string Raw(IToken t) =>
        t.StopIndex >= t.StartIndex && t.StartIndex >= 0 ? _source.Substring(t.StartIndex, t.StopIndex - t.StartIndex + 1) : "";

    private static SourceLocation Loc(string file, IToken t) => new(file, t.Line, t.Column + 1);

    /// <summary>Own-line comments just above <paramref name="start"/>. For the first statement, the
    /// comments above a blank line are the file's header.</summary>
    private bool Leading(IToken? start, string path, bool header)
    {
        if (start is null || start.TokenIndex < 0) return false;
        // Without comments only the blank lines between expectations matter.
        if (!_hasComments && !path.StartsWith("expect[", StringComparison.Ordinal)) return false;
        var found = new List<(int Index, bool BlankBelow)>();
        int newlines = 0;
        bool blank = false;
        for (int i = start.TokenIndex - 1; i >= 0; i--)
        {
            var t = _tokens.Get(i);
            if (t.Type == KplLexer.NL)
            {
                newlines += Math.Max(1, Raw(t).Count(c => c == '\n'));
                if (newlines >= 2) blank = true;
                continue;
            }
            if (t.Type != KplLexer.COMMENT || _usedComments.Contains(i)) break;
            var prev = i > 0 ? _tokens.Get(i - 1) : null;
            if (prev is not null && prev.Type != KplLexer.NL && prev.Line == t.Line) break;
            found.Add((i, blank));
            newlines = 0;
        }
        bool blankAbove = newlines >= 2;
        if (found.Count == 0) return blankAbove;
        found.Reverse();
        foreach (var (i, blankBelow) in found)
        {
            _usedComments.Add(i);
            string text = Raw(_tokens.Get(i)).TrimEnd();
            if (header && blankBelow) _comments.Header.Add(text);
            else
            {
                if (!_comments.Leading.TryGetValue(path, out var l)) _comments.Leading[path] = l = new List<string>();
                l.Add(text);
            }
        }
        return blankAbove;
    }

    private void Trailing(IToken? last, string path)
    {
        if (!_hasComments || last is null || last.TokenIndex < 0 || last.TokenIndex + 1 >= _tokens.Size) return;
        var t = _tokens.Get(last.TokenIndex + 1);
        if (t.Type == KplLexer.COMMENT && t.Line == last.Line && !_usedComments.Contains(t.TokenIndex) && !_comments.Trailing.ContainsKey(path))
        {
            _usedComments.Add(t.TokenIndex);
            _comments.Trailing[path] = Raw(t).TrimEnd();
        }
    }
}
