using System.Text.RegularExpressions;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>A YAML node that remembers where it was written. Built from YamlDotNet's parser events
/// (not its representation model, which recurses and would overflow the stack on hostile input).</summary>
internal abstract class YNode(SourceLocation location)
{
    public SourceLocation Location { get; } = location;

    /// <summary>How a user would name this node's type in a message ("a list", "the number 3").</summary>
    public abstract string Describe();
}

internal sealed partial class YScalar(SourceLocation location, string value, bool plain) : YNode(location)
{
    public string Value { get; } = value;

    /// <summary>Unquoted: subject to YAML's implicit typing (numbers, booleans, null).</summary>
    public bool Plain { get; } = plain;

    private byte _kind; // 0 unknown, 1 string, 2 null, 3 bool, 4 number: computed once

    private byte Kind => _kind != 0 ? _kind : _kind = Classify();

    private byte Classify()
    {
        if (!Plain) return 1;
        string v = Value;
        if (v is "" or "~" or "null" or "Null" or "NULL") return 2;
        if (v is "true" or "True" or "TRUE" or "false" or "False" or "FALSE") return 3;
        char c = v[0];
        if ((c is >= '0' and <= '9' or '-' or '+' or '.') && (IntRegex().IsMatch(v) || FloatRegex().IsMatch(v))) return 4;
        return 1;
    }

    public bool IsNull => Kind == 2;

    public bool IsBool => Kind == 3;

    public bool IsNumber => Kind == 4;

    /// <summary>A string in the Kubernetes sense: quoted, or plain and not null, bool or number.</summary>
    public bool IsString => Kind == 1;

    public override string Describe() =>
        IsNull ? "null" : IsBool ? $"the boolean {Value}" : IsNumber ? $"the number {Value}" : $"the string '{Value}'";

    [GeneratedRegex(@"^[-+]?([0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")]
    private static partial Regex IntRegex();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")]
    private static partial Regex FloatRegex();
}

internal sealed class YSeq(SourceLocation location) : YNode(location)
{
    public List<YNode> Items { get; } = new();

    public override string Describe() => "a list";
}

internal sealed class YMap(SourceLocation location) : YNode(location)
{
    private readonly List<KeyValuePair<YScalar, YNode>> _entries = new();
    private Dictionary<string, int>? _index; // built for large mappings only, so lookups stay O(1)

    public IReadOnlyList<KeyValuePair<YScalar, YNode>> Entries => _entries;

    public void Add(YScalar key, YNode value)
    {
        _entries.Add(new(key, value));
        if (_index is not null) _index.TryAdd(key.Value, _entries.Count - 1);
        else if (_entries.Count > 16)
        {
            _index = new(StringComparer.Ordinal);
            for (int i = 0; i < _entries.Count; i++) _index.TryAdd(_entries[i].Key.Value, i);
        }
    }

    private int Find(string key)
    {
        if (_index is not null) return _index.TryGetValue(key, out int i) ? i : -1;
        for (int i = 0; i < _entries.Count; i++) if (_entries[i].Key.Value == key) return i;
        return -1;
    }

    public YNode? this[string key] => Find(key) is var i && i >= 0 ? _entries[i].Value : null;

    public YScalar? KeyNode(string key) => Find(key) is var i && i >= 0 ? _entries[i].Key : null;

    public override string Describe() => "a mapping";
}

/// <summary>One YAML document of a source, or null content for an empty document.</summary>
internal sealed record YDocument(SourceText Source, YNode? Root, SourceLocation Start);

/// <summary>Reads a YAML stream into documents, reporting syntax errors, duplicate keys, excessive depth
/// and alias bombs as located diagnostics. Never throws for any input.</summary>
internal static partial class YamlTree
{
    public const int MaxDepth = 64;

    /// <summary>Upper bound on nodes of one document counting alias expansions, so that
    /// "billion laughs" documents are refused rather than walked.</summary>
    public const long MaxExpandedNodes = 20_000_000;

    /// <summary>The expansion budget of a text of <paramref name="chars"/> characters: every node the
    /// documents of the text expand to (an alias counts as the size of what it names) is work for
    /// every later stage, so the total is bounded by the text's size, not only per document:
    /// <see cref="ExpansionPerChar"/> nodes per character plus <see cref="ExpansionBase"/>.</summary>
    public static long ExpansionBudget(long chars) => Math.Min(MaxExpandedNodes, ExpansionBase + ExpansionPerChar * chars);

    public const long ExpansionBase = 1024, ExpansionPerChar = 16;

    public static IEnumerable<YDocument> Read(SourceText src, DiagnosticBag bag) =>
        Decode(src, bag) is { } text ? Read(src, text.AsMemory(), 0, bag) : [];

    /// <summary>The text of a source: strict UTF-8 (an invalid byte is a located error), BOM removed.</summary>
    public static string? Decode(SourceText src, DiagnosticBag bag)
    {
        try
        {
            string text = new System.Text.UTF8Encoding(false, true).GetString(src.Bytes);
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (System.Text.DecoderFallbackException e)
        {
            var (line, col) = LineCol(src.Bytes, e.Index);
            bag.Add(Codes.YamlSyntax, new SourceLocation(src.DisplayPath, line, col), "the file is not UTF-8 text");
            return null;
        }
    }

    /// <summary>Cuts a stream into pieces of about <paramref name="target"/> characters at document
    /// markers ("---" at the start of a line), which YAML never allows inside a document, so the pieces
    /// can be parsed independently. Streams with directives ("%YAML") stay whole.</summary>
    public static List<(ReadOnlyMemory<char> Text, int LineOffset)> Split(string text, int target)
    {
        var result = new List<(ReadOnlyMemory<char>, int)>();
        if (text.Length <= target || text.StartsWith('%') || text.Contains("\n%", StringComparison.Ordinal))
        {
            result.Add((text.AsMemory(), 0));
            return result;
        }
        int start = 0, startLine = 0, line = 0, counted = 0;
        while (start < text.Length)
        {
            int cut = text.Length;
            int probe = start + target;
            while (probe < text.Length)
            {
                int m = text.IndexOf("\n---", probe, StringComparison.Ordinal);
                if (m < 0) break;
                int after = m + 4;
                if (after >= text.Length || text[after] is '\n' or '\r' or ' ' or '\t') { cut = m + 1; break; }
                probe = after;
            }
            result.Add((text.AsMemory(start, cut - start), startLine));
            line += text.AsSpan(counted, cut - counted).Count('\n');
            counted = cut;
            start = cut;
            startLine = line;
        }
        return result;
    }

    public static IEnumerable<YDocument> Read(SourceText src, ReadOnlyMemory<char> text, int lineOffset, DiagnosticBag bag)
    {
        string file = src.DisplayPath;
        if (DeepFlow(text.Span) is { } deep)
        {
            // YamlDotNet's scanner is quadratic in flow nesting, so refuse before it starts.
            bag.Add(Codes.YamlTooDeep, new SourceLocation(file, deep.Line + lineOffset, deep.Column), MaxDepth);
            yield break;
        }
        if (Documents(text) is not { } docs || !System.Runtime.InteropServices.MemoryMarshal.TryGetString(text, out var whole, out int offset, out _))
        {
            foreach (var d in ReadWithYamlDotNet(src, text, lineOffset, bag)) yield return d;
            yield break;
        }
        // Most documents are plain block YAML: read them with the fast reader, the rest with YamlDotNet.
        foreach (var (start, end, line) in docs)
        {
            var root = FastYaml.TryParse(whole, offset + start, offset + end, file, lineOffset + line);
            if (root is not null) yield return new YDocument(src, root, root.Location);
            else foreach (var d in ReadWithYamlDotNet(src, text[start..end], lineOffset + line, bag)) yield return d;
        }
    }

    /// <summary>The documents of a stream: (start, end, first line) of the text between "---" marker
    /// lines. Null when a marker carries content or the stream has directives or "..." markers, so
    /// that YamlDotNet reads it whole.</summary>
    internal static List<(int Start, int End, int Line)>? Documents(ReadOnlyMemory<char> memory)
    {
        var text = memory.Span;
        var docs = new List<(int, int, int)>();
        int docStart = 0, docLine = 0, line = 0;
        for (int i = 0; i < text.Length;)
        {
            int e = text[i..].IndexOf('\n');
            int end = e < 0 ? text.Length : i + e;
            var l = text[i..end].TrimEnd('\r');
            if (l.Length > 0 && l[0] is '%' or '.' && (l[0] == '%' || l.StartsWith("...")) ) return null;
            if (l.StartsWith("---") && (l.Length == 3 || l[3] is ' ' or '\t'))
            {
                var rest = l[3..].Trim();
                if (rest.Length > 0 && rest[0] != '#') return null;
                if (i > docStart) docs.Add((docStart, i, docLine));
                docStart = end + 1 > text.Length ? text.Length : end + 1;
                docLine = line + 1;
            }
            line++;
            i = end + 1;
        }
        if (docStart < text.Length) docs.Add((docStart, text.Length, docLine));
        return docs;
    }

    internal static IEnumerable<YDocument> ReadWithYamlDotNet(SourceText src, ReadOnlyMemory<char> text, int lineOffset, DiagnosticBag bag)
    {
        string file = src.DisplayPath;
        var parser = new Parser(new MemoryReader(text));
        var builder = new Builder(file, lineOffset, bag, ExpansionBudget(text.Length));
        while (true)
        {
            bool more;
            YDocument? done = null;
            try
            {
                more = parser.MoveNext();
                if (more) done = builder.Accept(parser.Current!, src);
            }
            catch (YamlException e)
            {
                string message = CleanMessage(e.Message);
                var at = Loc(file, e.Start, lineOffset);
                // YamlDotNet points a tab error at the enclosing mapping; the tab itself is more useful.
                if (message.Contains("tab", StringComparison.Ordinal) && FirstIndentTab(text.Span, at.Line - lineOffset) is { } tab)
                    at = new SourceLocation(file, tab.Line + lineOffset, tab.Column);
                bag.Add(Codes.YamlSyntax, at, message);
                yield break;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // YamlDotNet has thrown other exception types on malformed input; report them at the
                // last position reached so the user still gets a location.
                bag.Add(Codes.YamlSyntax, builder.LastLocation, e.Message);
                yield break;
            }
            if (done is not null) yield return done;
            if (!more) yield break;
        }
    }

    /// <summary>Finds where flow collections ([ and {) nest deeper than <see cref="MaxDepth"/>. A bracket
    /// counts only where a YAML token can start (after a line start, ':', ',', '-', '?', '[' or '{'),
    /// so brackets inside plain scalars, quoted strings and comments are ignored.</summary>
    internal static (int Line, int Column)? DeepFlow(ReadOnlySpan<char> text)
    {
        int depth = 0, line = 1, lineStart = 0;
        bool tokenStart = true;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '\n':
                    line++; lineStart = i + 1; tokenStart = true;
                    continue;
                case ' ' or '\t' or '\r':
                    continue;
                case '#' when tokenStart || text[i - 1] is ' ' or '\t':
                    while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                    continue;
                case '[' or '{' when tokenStart:
                    if (++depth > MaxDepth) return (line, i - lineStart + 1);
                    continue;
                case ']' or '}':
                    if (depth > 0) depth--;
                    tokenStart = false;
                    continue;
                case ':' or ',' or '-' or '?':
                    tokenStart = true;
                    continue;
                case '"' when tokenStart:
                    for (i++; i < text.Length && text[i] != '"'; i++)
                    {
                        if (text[i] == '\\') i++;
                        else if (text[i] == '\n') { line++; lineStart = i + 1; }
                    }
                    tokenStart = false;
                    continue;
                case '\'' when tokenStart:
                    for (i++; i < text.Length && text[i] != '\''; i++)
                        if (text[i] == '\n') { line++; lineStart = i + 1; }
                    tokenStart = false;
                    continue;
                default:
                    if (c == '-' && i == lineStart && text[i..].StartsWith("---")) depth = 0;
                    tokenStart = false;
                    continue;
            }
        }
        return null;
    }

    private static (int Line, int Column)? FirstIndentTab(ReadOnlySpan<char> text, int fromLine)
    {
        int line = 1;
        int start = 0;
        while (start <= text.Length)
        {
            int end = start < text.Length ? text[start..].IndexOf('\n') : -1;
            end = end < 0 ? text.Length : start + end;
            if (line >= fromLine)
                for (int i = start; i < end && (text[i] == ' ' || text[i] == '\t'); i++)
                    if (text[i] == '\t') return (line, i - start + 1);
            start = end + 1;
            line++;
        }
        return null;
    }

    private static (int, int) LineCol(byte[] bytes, int index)
    {
        int line = 1, col = 1;
        for (int i = 0; i < Math.Min(index, bytes.Length); i++)
        {
            if (bytes[i] == '\n') { line++; col = 1; }
            else if ((bytes[i] & 0xC0) != 0x80) col++;
        }
        return (line, col);
    }

    internal static SourceLocation Loc(string file, Mark m, int lineOffset) => new(file, (int)Math.Max(1, m.Line) + lineOffset, (int)Math.Max(1, m.Column));

    /// <summary>A TextReader over a slice of a string, so pieces of a large input are not copied.</summary>
    private sealed class MemoryReader : TextReader
    {
        private readonly string _text;
        private readonly int _end;
        private int _pos;

        public MemoryReader(ReadOnlyMemory<char> text)
        {
            if (!System.Runtime.InteropServices.MemoryMarshal.TryGetString(text, out var s, out int start, out int length))
                (s, start, length) = (text.ToString(), 0, text.Length);
            _text = s;
            _pos = start;
            _end = start + length;
        }

        public override int Peek() => _pos < _end ? _text[_pos] : -1;

        public override int Read() => _pos < _end ? _text[_pos++] : -1;

        public override int Read(Span<char> buffer)
        {
            int n = Math.Min(buffer.Length, _end - _pos);
            _text.AsSpan(_pos, n).CopyTo(buffer);
            _pos += n;
            return n;
        }

        public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));
    }

    private static string CleanMessage(string m)
    {
        // "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): While scanning ..." → the tail.
        var match = PrefixRegex().Match(m);
        string s = match.Success ? m[match.Length..] : m;
        return s.Trim().TrimEnd('.');
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*")]
    private static partial Regex PrefixRegex();

    private sealed class Builder(string file, int lineOffset, DiagnosticBag bag, long budget)
    {
        private long _textSize; // nodes of every document of the text so far, aliases expanded
        private readonly Stack<(YNode Node, YScalar? PendingKey, long SizeAtStart, string? Anchor)> _stack = new();
        private readonly Dictionary<string, (YNode Node, long Size)> _anchors = new(StringComparer.Ordinal);
        private YNode? _root;
        private SourceLocation _docStart;
        private int _skipDepth; // > 0 while skipping a subtree that is too deep
        private bool _docFailed;
        private long _docSize; // nodes so far, counting every alias as the size of what it names

        public SourceLocation LastLocation { get; private set; } = new(file, 1 + lineOffset, 1);

        public YDocument? Accept(ParsingEvent ev, SourceText src)
        {
            var loc = Loc(file, ev.Start, lineOffset);
            LastLocation = loc;
            switch (ev)
            {
                case DocumentStart:
                    _stack.Clear(); _anchors.Clear();
                    _root = null; _docStart = loc; _skipDepth = 0; _docFailed = false; _docSize = 0;
                    return null;
                case DocumentEnd:
                    return new YDocument(src, _docFailed ? null : _root, _docStart);
                case StreamStart or StreamEnd:
                    return null;
            }
            if (_skipDepth > 0)
            {
                if (ev is MappingStart or SequenceStart) _skipDepth++;
                else if (ev is MappingEnd or SequenceEnd) _skipDepth--;
                return null;
            }
            switch (ev)
            {
                case Scalar s:
                {
                    var node = new YScalar(loc, s.Value, s.Style == ScalarStyle.Plain && s.Tag.IsEmpty);
                    if (!s.Anchor.IsEmpty) _anchors[s.Anchor.Value] = (node, 1);
                    Grow(1, loc);
                    Add(node);
                    break;
                }
                case AnchorAlias a:
                {
                    if (!_anchors.TryGetValue(a.Value.Value, out var target))
                    {
                        if (!_docFailed) bag.Add(Codes.UnresolvedAlias, loc, a.Value.Value);
                        _docFailed = true;
                        Add(new YScalar(loc, "", true));
                        break;
                    }
                    Grow(target.Size, loc);
                    Add(target.Node is YScalar ts ? new YScalar(loc, ts.Value, ts.Plain) : target.Node);
                    break;
                }
                case MappingStart or SequenceStart:
                {
                    if (_stack.Count >= MaxDepth)
                    {
                        if (!_docFailed) bag.Add(Codes.YamlTooDeep, loc, MaxDepth);
                        _docFailed = true;
                        _skipDepth = 1;
                        break;
                    }
                    YNode node = ev is MappingStart ? new YMap(loc) : new YSeq(loc);
                    var anchor = ((NodeEvent)ev).Anchor;
                    Grow(1, loc);
                    _stack.Push((node, null, _docSize - 1, anchor.IsEmpty ? null : anchor.Value));
                    break;
                }
                case MappingEnd or SequenceEnd:
                {
                    var (node, _, sizeAtStart, anchor) = _stack.Pop();
                    if (anchor is not null) _anchors[anchor] = (node, _docSize - sizeAtStart);
                    Add(node);
                    break;
                }
            }
            return null;
        }

        private void Grow(long n, SourceLocation loc)
        {
            _docSize += n;
            _textSize += n;
            if (_textSize > budget && !_docFailed)
            {
                bag.Add(Codes.DocumentTooLarge, loc, budget);
                _docFailed = true;
            }
        }

        private void Add(YNode node)
        {
            if (_stack.Count == 0)
            {
                _root ??= node;
                return;
            }
            var (parent, pendingKey, sizeAtStart, anchor) = _stack.Pop();
            if (parent is YSeq seq)
            {
                if (!_docFailed) seq.Items.Add(node);
                _stack.Push((parent, null, sizeAtStart, anchor));
                return;
            }
            var map = (YMap)parent;
            if (pendingKey is null)
            {
                if (node is YScalar key) pendingKey = key;
                else
                {
                    if (!_docFailed) bag.Add(Codes.ComplexKey, node.Location, node.Describe());
                    _docFailed = true;
                    pendingKey = new YScalar(node.Location, "?", false);
                }
                _stack.Push((parent, pendingKey, sizeAtStart, anchor));
                return;
            }
            if (!_docFailed)
            {
                if (pendingKey.Value == "<<" && pendingKey.Plain && Merge(map, node)) { }
                else if (map.KeyNode(pendingKey.Value) is { } first)
                    bag.Add(Codes.DuplicateKey, pendingKey.Location, pendingKey.Value, first.Location.Line);
                else map.Add(pendingKey, node);
            }
            _stack.Push((parent, null, sizeAtStart, anchor));
        }

        /// <summary>YAML merge keys ("&lt;&lt;: *base"): explicit keys win over merged ones.</summary>
        private static bool Merge(YMap into, YNode from)
        {
            var sources = from is YSeq s ? s.Items : [from];
            if (!sources.All(x => x is YMap)) return false;
            foreach (var m in sources.Cast<YMap>())
                foreach (var e in m.Entries)
                    if (into.KeyNode(e.Key.Value) is null) into.Add(e.Key, e.Value);
            return true;
        }
    }
}
