using System.Text;
using Antlr4.Runtime;
using Antlr4.Runtime.Atn;
using Antlr4.Runtime.Misc;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Text.Syntax;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Text;

/// <summary>Text → parse tree → (KplBinder) IR. Decodes strictly as UTF-8, parses with SLL prediction first and falls
/// back to full LL only when SLL fails, and turns ANTLR's errors into located KM6xxx diagnostics
/// ("expected ... found ..."). ANTLR's console listeners are removed: nothing is printed.</summary>
internal static class KplSyntax
{
    /// <summary>Errors beyond this many in one file stop the parse: bounded time and output.</summary>
    public const int MaxErrors = 100;

    public static KplDocument Read(SourceText source, DiagnosticBag bag)
    {
        string file = source.DisplayPath;
        string? text = Decode(source, file, bag);
        if (text is null) return new KplBinder(file, "", new CommonTokenStream(new KplLexer(new AntlrInputStream(""))), bag).Finish();
        return Read(text, file, bag);
    }

    public static KplDocument Read(string text, string file, DiagnosticBag bag)
    {
        // A final newline ends the last statement, so the grammar needs no special case for EOF.
        if (!text.EndsWith('\n')) text += "\n";
        // UTF-16 indices, so the binder can cut token text straight out of the source string.
        var lexer = new KplLexer(new AntlrInputStream(text));
        lexer.RemoveErrorListeners();
        var tokens = new CommonTokenStream(lexer);
        tokens.Fill();
        var parser = new KplParser(tokens) { BuildParseTree = true };
        parser.RemoveErrorListeners();

        // Stage 1: SLL, bail on the first error. Most files are valid and this is the fast path.
        // Each line is bound as soon as it is parsed, so the tree of the whole file never exists
        // (a large world is millions of nodes); the binder reports into a scratch bag until the
        // whole file has parsed.
        parser.Interpreter.PredictionMode = PredictionMode.SLL;
        parser.ErrorHandler = new BailErrorStrategy();
        var scratch = new DiagnosticBag();
        var fast = new KplBinder(file, text, tokens, scratch);
        try
        {
            while (tokens.LA(1) != TokenConstants.EOF) fast.BindLine(parser.line());
            bag.AddRange(scratch.Items);
            return fast.Finish();
        }
        catch (ParseCanceledException)
        {
        }

        // Stage 2: full LL with recovery, reporting every error (up to MaxErrors), then binding.
        tokens.Seek(0);
        parser.Reset();
        parser.Interpreter.PredictionMode = PredictionMode.LL;
        parser.ErrorHandler = new DefaultErrorStrategy();
        var listener = new Listener(file, bag);
        parser.AddErrorListener(listener);
        var binder = new KplBinder(file, text, tokens, bag);
        try
        {
            foreach (var line in parser.file().line()) binder.BindLine(line);
        }
        catch (TooManyErrors)
        {
            bag.Add(Codes.KplTooManyErrors, listener.LastLocation, MaxErrors);
        }
        return binder.Finish();
    }

    private static string? Decode(SourceText source, string file, DiagnosticBag bag)
    {
        var bytes = source.Bytes.AsSpan();
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        var strict = new UTF8Encoding(false, true);
        try
        {
            return strict.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            int offset = Math.Max(0, e.Index);
            // Locate the bad byte: count lines and characters in the valid prefix.
            var prefix = Encoding.UTF8.GetString(bytes[..Math.Min(offset, bytes.Length)]);
            int line = 1, col = 1;
            foreach (var c in prefix) { if (c == '\n') { line++; col = 1; } else col++; }
            byte bad = offset < bytes.Length ? bytes[offset] : (byte)0;
            bag.Add(Codes.KplInvalidUtf8, new SourceLocation(file, line, col), bad, offset);
            return null;
        }
    }

    private sealed class TooManyErrors : Exception
    {
    }

    private sealed class Listener(string file, DiagnosticBag bag) : IAntlrErrorListener<IToken>
    {
        public int Count { get; private set; }

        public SourceLocation LastLocation { get; private set; } = new(file, 0, 0);

        public void SyntaxError(TextWriter output, IRecognizer recognizer, IToken offendingSymbol, int line, int charPositionInLine, string msg, RecognitionException e)
        {
            var loc = new SourceLocation(file, line, charPositionInLine + 1);
            LastLocation = loc;
            if (++Count > MaxErrors) throw new TooManyErrors();
            switch (offendingSymbol?.Type)
            {
                case KplLexer.UNTERMINATED:
                    bag.Add(Codes.KplUnterminatedString, loc);
                    return;
                case KplLexer.BAD:
                    bag.Add(Codes.KplBadCharacter, loc, ShowChar(offendingSymbol.Text));
                    return;
            }
            IntervalSet expected;
            try
            {
                expected = e?.GetExpectedTokens() ?? ((Parser)recognizer).GetExpectedTokens();
            }
            catch (Exception) when (e is not null)
            {
                expected = ((Parser)recognizer).GetExpectedTokens();
            }
            bag.Add(Codes.KplSyntax, loc, Describe(expected), Found(offendingSymbol));
        }
    }

    internal static string ShowChar(string s)
    {
        if (s.Length == 1 && (char.IsControl(s[0]) || char.IsWhiteSpace(s[0])))
            return $"U+{(int)s[0]:X4}";
        return $"'{s}'";
    }

    private static readonly int[] TextTokens =
    [
        KplLexer.WORD, KplLexer.STRING, KplLexer.NAMESPACE, KplLexer.NODE, KplLexer.WORKLOAD, KplLexer.SERVICE,
        KplLexer.POLICY, KplLexer.RULE, KplLexer.CLAUSE, KplLexer.MATCH, KplLexer.WORLD, KplLexer.EXPECT,
        KplLexer.CONNECTION, KplLexer.LB, KplLexer.FROM, KplLexer.TO, KplLexer.PORT, KplLexer.IDENTITY,
        KplLexer.PLAINTEXT, KplLexer.ALLOWED, KplLexer.DENIED, KplLexer.BY, KplLexer.REACHES, KplLexer.NOTHING,
    ];

    /// <summary>"a value, '{' or end of line": token sets in words people use.</summary>
    internal static string Describe(IntervalSet set)
    {
        var types = set.ToList().ToHashSet();
        var parts = new List<string>();
        if (types.Contains(KplLexer.WORD) && types.Contains(KplLexer.STRING))
        {
            parts.Add("a value");
            types.ExceptWith(TextTokens);
        }
        else if (types.Contains(KplLexer.WORD) && types.Contains(KplLexer.NODE) && !types.Contains(KplLexer.NAMESPACE))
        {
            parts.Add("a field name");
            types.Remove(KplLexer.WORD);
            types.Remove(KplLexer.NODE);
        }
        foreach (var t in types.OrderBy(t => t == TokenConstants.EOF ? int.MaxValue : t == KplLexer.NL ? int.MaxValue - 1 : t))
            parts.Add(TokenName(t));
        return parts.Count switch
        {
            0 => "nothing more",
            1 => parts[0],
            _ => string.Join(", ", parts.Take(parts.Count - 1)) + " or " + parts[^1],
        };
    }

    private static string TokenName(int t) => t switch
    {
        TokenConstants.EOF => "end of file",
        KplLexer.NL => "end of line",
        KplLexer.WORD => "a name or value",
        KplLexer.STRING => "a quoted string",
        _ => KplLexer.DefaultVocabulary.GetLiteralName(t) ?? KplLexer.DefaultVocabulary.GetDisplayName(t),
    };

    internal static string Found(IToken? t)
    {
        if (t is null) return "nothing";
        return t.Type switch
        {
            TokenConstants.EOF => "end of file",
            KplLexer.NL => "end of line",
            _ => t.Text.Length > 40 ? $"'{t.Text[..40]}...'" : $"'{t.Text}'",
        };
    }
}
