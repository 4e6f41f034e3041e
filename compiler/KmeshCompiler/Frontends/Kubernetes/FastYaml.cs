using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>A fast reader for the block-YAML subset that Kubernetes tools emit: block mappings and
/// sequences, one-line plain and quoted scalars, one-line flow collections and comments. It gives up
/// (returns null) on anything else — anchors, tags, block scalars, multi-line scalars, empty values,
/// duplicate keys, tabs — and the caller then reads the document with YamlDotNet, so the result is
/// always YamlDotNet's. A test compares both readers on every document this one accepts.</summary>
internal sealed class FastYaml
{
    private readonly string _text;
    private readonly string _file;
    private readonly int _lineOffset;
    private readonly List<(int Start, int End)> _lines = new(); // content lines (no blank/comment-only)
    private readonly List<int> _lineNumbers = new();
    private int _li;   // current line index
    private int _col;  // current column (0-based) within the current line
    private int _depth;

    private sealed class Bail : Exception;

    private static readonly Bail TheBail = new();

    private FastYaml(string text, int start, int end, string file, int firstLine)
    {
        _text = text;
        _file = file;
        _lineOffset = firstLine;
        int line = 0;
        for (int i = start; i < end;)
        {
            int e = text.IndexOf('\n', i, end - i);
            if (e < 0) e = end;
            int le = e > i && text[e - 1] == '\r' ? e - 1 : e;
            int k = i;
            while (k < le && text[k] == ' ') k++;
            if (k < le && text[k] == '\t') throw TheBail;
            if (k < le && text[k] != '#')
            {
                _lines.Add((i, le));
                _lineNumbers.Add(line);
            }
            line++;
            i = e + 1;
        }
    }

    /// <summary>The root of the document in text[start..end) (its first line is line
    /// <paramref name="firstLine"/> + 1), or null when the subset does not cover it.</summary>
    public static YNode? TryParse(string text, int start, int end, string file, int firstLine)
    {
        try
        {
            var p = new FastYaml(text, start, end, file, firstLine);
            if (p._lines.Count == 0) return null;
            p._col = p.Indent(0);
            var root = p.Block(p._col);
            return p._li == p._lines.Count ? root : null;
        }
        catch (Bail) { return null; }
    }

    private int Indent(int li)
    {
        var (s, e) = _lines[li];
        int k = s;
        while (k < e && _text[k] == ' ') k++;
        return k - s;
    }

    private char At(int col) => _lines[_li].Start + col < _lines[_li].End ? _text[_lines[_li].Start + col] : '\0';

    private int LineLength => _lines[_li].End - _lines[_li].Start;

    private SourceLocation Loc(int col) => new(_file, _lineNumbers[_li] + _lineOffset + 1, col + 1);

    private static bool IsSeqDash(char c, char next) => c == '-' && next is ' ' or '\0';

    /// <summary>A block node starting at the current position, whose lines are indented by
    /// <paramref name="indent"/>.</summary>
    private YNode Block(int indent)
    {
        if (++_depth > YamlTree.MaxDepth) throw TheBail;
        try
        {
            char c = At(_col);
            if (IsSeqDash(c, At(_col + 1))) return Sequence(indent);
            if (c is '[' or '{') { var n = FlowLine(); return n; }
            return Mapping(indent);
        }
        finally { _depth--; }
    }

    private YNode FlowLine()
    {
        var n = Flow();
        EndOfLine();
        _li++;
        return n;
    }

    private YSeq Sequence(int indent)
    {
        var seq = new YSeq(Loc(_col));
        while (true)
        {
            // at "- "
            int itemCol = _col + 2;
            while (At(itemCol) == ' ') itemCol++;
            if (At(itemCol) is '\0' or '#')
            {
                // item on the following, more indented lines
                _li++;
                if (_li >= _lines.Count) throw TheBail;
                int ind = Indent(_li);
                if (ind <= indent) throw TheBail; // empty item (null): leave it to YamlDotNet
                _col = ind;
                seq.Items.Add(Block(ind));
            }
            else
            {
                _col = itemCol;
                seq.Items.Add(InlineOrBlock(itemCol));
            }
            if (_li >= _lines.Count) return seq;
            int next = Indent(_li);
            if (next < indent) return seq;
            if (next > indent) throw TheBail;
            _col = next;
            if (!IsSeqDash(At(_col), At(_col + 1))) return seq;
        }
    }

    /// <summary>An item or value that starts on the current line at <paramref name="col"/>: a nested
    /// block (compact "- key: v" or "- - x"), a flow collection, or a scalar.</summary>
    private YNode InlineOrBlock(int col)
    {
        char c = At(col);
        if (IsSeqDash(c, At(col + 1)) || (c is not ('[' or '{' or '"' or '\'') && KeyEnd(col) >= 0) ||
            (c is '"' or '\'' && QuotedIsKey(col)))
            return Block(col);
        YNode n = c is '[' or '{' ? Flow() : Scalar(flow: false);
        EndOfLine();
        _li++;
        return n; // a deeper next line (a continuation) is refused by the enclosing sequence
    }

    private bool QuotedIsKey(int col)
    {
        int save = _col;
        _col = col;
        try
        {
            Scalar(flow: false);
            return At(_col) == ':' && At(_col + 1) is ' ' or '\0';
        }
        finally { _col = save; }
    }

    /// <summary>The column of the ':' ending a plain key that starts at col, or -1.</summary>
    private int KeyEnd(int col)
    {
        int len = LineLength;
        for (int i = col; i < len; i++)
        {
            char c = At(i);
            if (c == ':' && (i + 1 >= len || At(i + 1) == ' ')) return i;
            if (c == '#' && i > col && At(i - 1) == ' ') return -1;
        }
        return -1;
    }

    private YMap Mapping(int indent)
    {
        var map = new YMap(Loc(_col));
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            int keyCol = _col;
            YScalar key;
            char c = At(_col);
            if (c is '"' or '\'') key = (YScalar)Scalar(flow: false);
            else
            {
                int end = KeyEnd(_col);
                if (end < 0 || !PlainStart(c, At(_col + 1))) throw TheBail;
                string k = _text.Substring(_lines[_li].Start + _col, end - _col).TrimEnd(' ');
                if (k.Length == 0 || k == "<<" || k.Contains(" #")) throw TheBail;
                key = new YScalar(Loc(keyCol), k, true);
                _col = end;
            }
            if (At(_col) != ':' || At(_col + 1) is not (' ' or '\0')) throw TheBail;
            if (!keys.Add(key.Value)) throw TheBail;
            _col++;
            while (At(_col) == ' ') _col++;
            YNode value;
            if (At(_col) is '\0' or '#')
            {
                _li++;
                if (_li >= _lines.Count) throw TheBail; // null value
                int ind = Indent(_li);
                _col = ind;
                if (ind > indent) value = Block(ind);
                else if (ind == indent && IsSeqDash(At(_col), At(_col + 1))) value = Sequence(ind);
                else throw TheBail; // null value
            }
            else
            {
                char v = At(_col);
                if (IsSeqDash(v, At(_col + 1))) throw TheBail;
                value = v is '[' or '{' ? Flow() : Scalar(flow: false);
                EndOfLine();
                _li++;
                if (_li < _lines.Count && Indent(_li) > indent) throw TheBail; // continuation or error
            }
            map.Add(key, value);
            if (_li >= _lines.Count) return map;
            int next = Indent(_li);
            if (next < indent) return map;
            if (next > indent) throw TheBail;
            _col = next;
            if (IsSeqDash(At(_col), At(_col + 1))) return map;
        }
    }

    private void EndOfLine()
    {
        while (At(_col) == ' ') _col++;
        char c = At(_col);
        if (c == '\0') return;
        if (c == '#' && At(_col - 1) == ' ') return;
        throw TheBail;
    }

    private static bool PlainStart(char c, char next) =>
        c == '-' ? next is not (' ' or '\0')
        : c is not ('\0' or ' ' or '?' or ':' or ',' or '[' or ']' or '{' or '}' or '#' or '&' or '*' or '!' or '|' or '>' or '\'' or '"' or '%' or '@' or '`');

    /// <summary>A one-line scalar at the current column; leaves _col after it.</summary>
    private YNode Scalar(bool flow)
    {
        int start = _col;
        char c = At(_col);
        var loc = Loc(start);
        if (c == '"')
        {
            var sb = new System.Text.StringBuilder();
            _col++;
            while (true)
            {
                char d = At(_col);
                if (d == '\0') throw TheBail;
                if (d == '"') { _col++; break; }
                if (d == '\\')
                {
                    char e = At(_col + 1);
                    sb.Append(e switch { '"' => '"', '\\' => '\\', '/' => '/', 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => throw TheBail });
                    _col += 2;
                    continue;
                }
                sb.Append(d);
                _col++;
            }
            return new YScalar(loc, sb.ToString(), false);
        }
        if (c == '\'')
        {
            var sb = new System.Text.StringBuilder();
            _col++;
            while (true)
            {
                char d = At(_col);
                if (d == '\0') throw TheBail;
                if (d == '\'')
                {
                    if (At(_col + 1) == '\'') { sb.Append('\''); _col += 2; continue; }
                    _col++;
                    break;
                }
                sb.Append(d);
                _col++;
            }
            return new YScalar(loc, sb.ToString(), false);
        }
        if (!PlainStart(c, At(_col + 1))) throw TheBail;
        int len = LineLength;
        int i = _col;
        for (; i < len; i++)
        {
            char d = At(i);
            if (d == ':' && (i + 1 >= len || At(i + 1) is ' ' || (flow && At(i + 1) is ',' or ']' or '}'))) break;
            if (d == '#' && At(i - 1) == ' ') break;
            if (flow && d is ',' or '[' or ']' or '{' or '}') break;
        }
        int endTrim = i;
        while (endTrim > start && At(endTrim - 1) == ' ') endTrim--;
        if (endTrim == start) throw TheBail;
        if (!flow && i < len && At(i) == ':') throw TheBail; // "a: b: c" and the like
        _col = endTrim;
        return new YScalar(loc, _text.Substring(_lines[_li].Start + start, endTrim - start), true);
    }

    /// <summary>A flow collection that opens and closes on the current line.</summary>
    private YNode Flow()
    {
        if (++_depth > YamlTree.MaxDepth) throw TheBail;
        try
        {
            char open = At(_col);
            var loc = Loc(_col);
            _col++;
            Spaces();
            if (open == '[')
            {
                var seq = new YSeq(loc);
                if (At(_col) == ']') { _col++; return seq; }
                while (true)
                {
                    char c = At(_col);
                    YNode item = c is '[' or '{' ? Flow() : Scalar(flow: true);
                    Spaces();
                    if (At(_col) == ':') throw TheBail; // single-pair mappings inside sequences
                    seq.Items.Add(item);
                    if (At(_col) == ',') { _col++; Spaces(); if (At(_col) == ']') throw TheBail; continue; }
                    if (At(_col) == ']') { _col++; return seq; }
                    throw TheBail;
                }
            }
            var map = new YMap(loc);
            var keys = new HashSet<string>(StringComparer.Ordinal);
            if (At(_col) == '}') { _col++; return map; }
            while (true)
            {
                if (At(_col) is '[' or '{') throw TheBail;
                var key = (YScalar)Scalar(flow: true);
                Spaces();
                if (At(_col) != ':' || At(_col + 1) is not (' ')) throw TheBail;
                _col++;
                Spaces();
                char c = At(_col);
                if (c is ',' or '}') throw TheBail; // null value
                YNode value = c is '[' or '{' ? Flow() : Scalar(flow: true);
                if (!keys.Add(key.Value) || key.Value == "<<") throw TheBail;
                map.Add(key, value);
                Spaces();
                if (At(_col) == ',') { _col++; Spaces(); if (At(_col) == '}') throw TheBail; continue; }
                if (At(_col) == '}') { _col++; return map; }
                throw TheBail;
            }
        }
        finally { _depth--; }
    }

    private void Spaces()
    {
        while (At(_col) == ' ') _col++;
    }
}
