using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace KmeshCompiler.Frontends.Xds;

/// <summary>A proto JSON snapshot: one response object or an array of them. The envelope is walked
/// here, resource by resource, so one resource that does not decode (or has a type nobody knows)
/// costs only itself; each resource body is then parsed by Google.Protobuf's JsonParser. An entry of
/// <c>resources</c> with an "@type" is a bare Any (state of the world); one with a "resource" field is
/// a Delta Resource. Authorization accepts ztunnel's level names (rules → clauses → matches) and
/// istio/istio's (groups → rules → matches).</summary>
internal static class JsonSnapshot
{
    /// <summary>Deeper documents are refused with a located error rather than parsed.</summary>
    public const int MaxDepth = 64;

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false).WithRecursionLimit(MaxDepth));

    public static void Read(SourceText src, ResourceReader reader, DiagnosticBag bag)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(src.Bytes, new JsonDocumentOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            int line = (int)(e.LineNumber ?? 0) + 1;
            int col = (int)(e.BytePositionInLine ?? 0) + 1;
            bag.Report(Codes.XdsBadJson, new SourceLocation(src.DisplayPath, line, col), FirstSentence(e.Message));
            return;
        }
        using (doc)
        {
            // Every string is checked once here, so no later GetString can throw.
            if (BadString(src.Bytes) is { } bad)
            {
                bag.Report(Codes.XdsBadJson, new SourceLocation(src.DisplayPath, bad.Line, bad.Column), bad.Why);
                return;
            }
            var positions = new ResourcePositions(src.Bytes);
            var root = doc.RootElement;
            var file = new SourceLocation(src.DisplayPath, 1, 1);
            var namings = new HashSet<string>(StringComparer.Ordinal);
            if (root.ValueKind == JsonValueKind.Object) Response(root, 1, reader, bag, file, namings, positions);
            else if (root.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var r in root.EnumerateArray())
                {
                    i++;
                    if (r.ValueKind != JsonValueKind.Object)
                        bag.Report(Codes.XdsBadJsonShape, file with { Resource = $"response {i}" }, $"element {i} of the array is {Kind(r)}, not a response object");
                    else Response(r, i, reader, bag, file, namings, positions);
                }
            }
            else bag.Report(Codes.XdsBadJsonShape, file, $"the document is {Kind(root)}");
        }
    }

    private static void Response(JsonElement r, int index, ResourceReader reader, DiagnosticBag bag, SourceLocation file, HashSet<string> namings, ResourcePositions positions)
    {
        var at = new SourceLocation(file.File, 0, 0, $"response {index}");
        string typeUrl = Str(r, "typeUrl", "type_url");
        bool delta = Has(r, "removedResources", "removed_resources") || Has(r, "systemVersionInfo", "system_version_info");
        bool sotw = Has(r, "versionInfo", "version_info") || Has(r, "canary");
        if (Get(r, "resources") is { } list)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                bag.Report(Codes.XdsBadJsonShape, at, "\"resources\" is not an array");
                return;
            }
            // A state-of-the-world response holds bare Any values: its first entry has an "@type".
            foreach (var first in list.EnumerateArray())
            {
                if (!delta && first.ValueKind == JsonValueKind.Object && first.TryGetProperty("@type", out _)) sotw = true;
                break;
            }
            if (sotw && !delta) reader.State.Reset(TypeUrls.Classify(typeUrl));
            int i = 0;
            foreach (var e in list.EnumerateArray())
            {
                var (line, col) = positions.Of(index, i);
                reader.At(line, col);
                string pos = ResourceReader.Position(index, i++);
                if (e.ValueKind != JsonValueKind.Object)
                {
                    bag.Report(Codes.XdsBadJsonShape, reader.Location(pos), $"a resource is {Kind(e)}, not an object");
                    continue;
                }
                if (e.TryGetProperty("@type", out _)) { Any(e, pos, reader, bag, namings); continue; }
                string name = Str(e, "name");
                if (name.Length == 0) name = pos;
                if (Get(e, "resource") is { ValueKind: JsonValueKind.Object } any) Any(any, name, reader, bag, namings);
                else reader.Unknown("", name);
            }
        }
        else if (sotw && !delta) reader.State.Reset(TypeUrls.Classify(typeUrl));
        reader.At(0, 0);
        if (Get(r, "removedResources", "removed_resources") is { } removed)
        {
            if (removed.ValueKind != JsonValueKind.Array)
            {
                bag.Report(Codes.XdsBadJsonShape, at, "\"removedResources\" is not an array");
                return;
            }
            var type = TypeUrls.Classify(typeUrl);
            foreach (var n in removed.EnumerateArray())
            {
                if (n.ValueKind == JsonValueKind.String) reader.State.Remove(type, n.GetString()!, at, bag);
                else bag.Report(Codes.XdsBadJsonShape, at, $"an entry of \"removedResources\" is {Kind(n)}, not a resource name");
            }
        }
    }

    private static void Any(JsonElement any, string name, ResourceReader reader, DiagnosticBag bag, HashSet<string> namings)
    {
        if (!any.TryGetProperty("@type", out var t))
        {
            bag.Report(Codes.XdsBadJsonShape, reader.Location(name), "a resource has no \"@type\": its type is unknown");
            return;
        }
        string typeUrl = t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        var type = TypeUrls.Classify(typeUrl);
        if (type == ResourceType.Unknown) { reader.Unknown(typeUrl, name); return; }
        try
        {
            var obj = JsonNode.Parse(any.GetRawText(), documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth })!.AsObject();
            obj.Remove("@type");
            IMessage msg;
            switch (type)
            {
                case ResourceType.Address: msg = Parser.Parse<Wl.Address>(obj.ToJsonString()); break;
                case ResourceType.Workload: msg = Parser.Parse<Wl.Workload>(obj.ToJsonString()); break;
                default:
                    string? naming = Naming(obj);
                    if (naming is not null && namings.Add(naming))
                        bag.Report(Codes.XdsJsonNaming, reader.Location(name), naming);
                    msg = Parser.Parse<Sec.Authorization>(obj.ToJsonString());
                    break;
            }
            reader.Add(msg, name);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or JsonException or InvalidOperationException or ArgumentException or OverflowException)
        {
            bag.Report(Codes.XdsUndecodable, reader.Location(name), TypeUrls.MessageName(typeUrl), FirstSentence(e.Message));
        }
    }

    public const string ZtunnelNaming = "ztunnel's naming (rules → clauses → matches)";
    public const string IstioNaming = "istio/istio's naming (groups → rules → matches)";

    /// <summary>Rewrites istio/istio's level names into ztunnel's (the names of this project's proto),
    /// and says which naming the object used (null when it has no rules at all).</summary>
    private static string? Naming(JsonObject auth)
    {
        bool groups = auth.ContainsKey("groups");
        bool rules = auth.ContainsKey("rules");
        if (groups && rules) throw new FormatException("an Authorization has both \"groups\" (istio/istio's naming) and \"rules\" (ztunnel's naming); use one");
        if (!groups) return rules ? ZtunnelNaming : null;
        var list = auth["groups"];
        auth.Remove("groups");
        if (list is JsonArray arr)
        {
            foreach (var g in arr)
            {
                if (g is JsonObject go && go.ContainsKey("rules"))
                {
                    var inner = go["rules"];
                    go.Remove("rules");
                    go["clauses"] = inner;
                }
            }
        }
        auth["rules"] = list;
        return IstioNaming;
    }

    /// <summary>The first string or property name that is not valid UTF-8 or holds a lone surrogate
    /// escape (which no .NET or protobuf string can hold), with its line and column.</summary>
    private static (int Line, int Column, string Why)? BadString(byte[] json)
    {
        var r = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = MaxDepth });
        try
        {
            while (r.Read())
            {
                if (r.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
                try { r.GetString(); }
                catch (InvalidOperationException)
                {
                    long at = r.TokenStartIndex;
                    int line = 1, lineStart = 0;
                    for (int i = 0; i < at; i++) if (json[i] == (byte)'\n') { line++; lineStart = i + 1; }
                    return (line, (int)(at - lineStart) + 1, "a string is not valid UTF-8 or holds an unpaired surrogate escape (\\ud800-\\udfff)");
                }
            }
        }
        catch (JsonException)
        {
            // The document parsed already.
        }
        return null;
    }

    private static JsonElement? Get(JsonElement o, params string[] names)
    {
        foreach (var n in names)
            if (o.TryGetProperty(n, out var v)) return v;
        return null;
    }

    private static bool Has(JsonElement o, params string[] names) => Get(o, names) is not null;

    private static string Str(JsonElement o, params string[] names) =>
        Get(o, names) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : "";

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "an object",
    };

    private static string FirstSentence(string m)
    {
        int nl = m.IndexOf('\n');
        return nl < 0 ? m : m[..nl];
    }
}

/// <summary>Line and column of every entry of every response's "resources" array, found by one pass
/// of a forward-only reader (JsonElement keeps no positions). Columns count bytes.</summary>
internal sealed class ResourcePositions
{
    private readonly Dictionary<(int Response, int Index), (int Line, int Column)> _at = new();

    public ResourcePositions(byte[] json)
    {
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < json.Length; i++) if (json[i] == (byte)'\n') lineStarts.Add(i + 1);
        var r = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, MaxDepth = JsonSnapshot.MaxDepth });
        int responseDepth = -1, response = 0, index = -1;
        bool resourcesNext = false, inResources = false;
        try
        {
            while (r.Read())
            {
                int depth = r.CurrentDepth;
                if (responseDepth < 0) responseDepth = r.TokenType == JsonTokenType.StartArray ? 1 : 0;
                switch (r.TokenType)
                {
                    case JsonTokenType.StartObject when depth == responseDepth:
                        response++; index = -1; inResources = false;
                        break;
                    case JsonTokenType.PropertyName when depth == responseDepth + 1:
                        resourcesNext = r.ValueTextEquals("resources"u8);
                        break;
                    case JsonTokenType.StartArray when depth == responseDepth + 1:
                        inResources = resourcesNext;
                        break;
                    case JsonTokenType.EndArray when depth == responseDepth + 1:
                        inResources = false;
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.String or JsonTokenType.Number
                        or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null when inResources && depth == responseDepth + 2:
                        index++;
                        long at = r.TokenStartIndex;
                        int line = lineStarts.BinarySearch((int)at);
                        if (line < 0) line = ~line - 1;
                        _at[(response, index)] = (line + 1, (int)(at - lineStarts[line]) + 1);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // The document parsed already; a reader that disagrees just leaves positions unknown.
        }
    }

    public (int Line, int Column) Of(int response, int index) => _at.GetValueOrDefault((response, index));
}
