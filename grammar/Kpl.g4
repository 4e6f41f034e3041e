// The .kpl text language: the compiler's IR as text (worlds, policies) and policy tests.
// See README.md beside this file for the syntax with examples.
//
// Newlines end statements and field lines; ';' does the same on one line. Field lines are generic
// ("name value value ...") and the binder checks names and values, so a misspelt field gets a
// "did you mean" instead of a parse error. The grammar has no recursion: nesting is bounded by
// policy > rule > clause > match, so no input can exhaust the parser's stack.
grammar Kpl;

// ---------------------------------------------------------------------------------------------
// Parser

// One statement per line (a block statement spans lines). A line that cannot start a statement is
// kept as "junk" up to its end, so an error there does not swallow the rest of the file: the binder
// reports it and goes on with the next line.
file        : line* EOF ;
line        : statement? NL
            | junk NL
            ;
junk        : ~(NAMESPACE | NODE | WORKLOAD | SERVICE | POLICY | WORLD | EXPECT | NL) ~NL* ;

statement   : namespaceDecl
            | nodeDecl
            | workloadDecl
            | serviceDecl
            | policyDecl
            | worldDecl
            | expectDecl
            ;

namespaceDecl : NAMESPACE name=text ;
nodeDecl      : NODE name=text body? ;
workloadDecl  : WORKLOAD qname body? ;
serviceDecl   : SERVICE qname body? ;
policyDecl    : POLICY qname action=text policyBody ;

// "namespace/name": split at the first slash.
qname       : text ;

body        : '{' NL? (field (NL field)*)? NL? '}' ;
// The values are the field's direct children (no node per value: files have millions of them).
field       : key=(WORD | NODE) (WORD | STRING
            | NAMESPACE | NODE | WORKLOAD | SERVICE | POLICY | RULE | CLAUSE | MATCH | WORLD | EXPECT
            | CONNECTION | LB | FROM | TO | PORT | IDENTITY | PLAINTEXT | ALLOWED | DENIED | BY
            | REACHES | NOTHING
            | call)* ;
// An explicit string match such as prefix("*a").
call        : fn=CALL arg=text ')' ;

policyBody  : '{' NL? (policyMember (NL policyMember)*)? NL? '}' ;
policyMember: field | ruleDecl ;
ruleDecl    : RULE '{' NL? (ruleMember (NL ruleMember)*)? NL? '}' ;
ruleMember  : clauseDecl | matchDecl ;
clauseDecl  : CLAUSE '{' NL? (matchDecl (NL matchDecl)*)? NL? '}' ;
matchDecl   : MATCH body ;

// Policy tests (*.test.kpl).
worldDecl   : WORLD text+ ;
expectDecl  : EXPECT (connectionExpect | lbExpect) ;
connectionExpect
            : CONNECTION FROM src=text (IDENTITY identity=text | PLAINTEXT)? TO dst=text PORT port=text
              verdict=(ALLOWED | DENIED) (BY policy=text)? ;
lbExpect    : LB FROM NODE node=text SERVICE service=text PORT port=text REACHES (NOTHING | text+) ;

text        : WORD | STRING
            | NAMESPACE | NODE | WORKLOAD | SERVICE | POLICY | RULE | CLAUSE | MATCH | WORLD | EXPECT
            | CONNECTION | LB | FROM | TO | PORT | IDENTITY | PLAINTEXT | ALLOWED | DENIED | BY
            | REACHES | NOTHING
            ;


// ---------------------------------------------------------------------------------------------
// Lexer

NAMESPACE   : 'namespace' ;
NODE        : 'node' ;
WORKLOAD    : 'workload' ;
SERVICE     : 'service' ;
POLICY      : 'policy' ;
RULE        : 'rule' ;
CLAUSE      : 'clause' ;
MATCH       : 'match' ;
WORLD       : 'world' ;
EXPECT      : 'expect' ;
CONNECTION  : 'connection' ;
LB          : 'lb' ;
FROM        : 'from' ;
TO          : 'to' ;
PORT        : 'port' ;
IDENTITY    : 'identity' ;
PLAINTEXT   : 'plaintext' ;
ALLOWED     : 'allowed' ;
DENIED      : 'denied' ;
BY          : 'by' ;
REACHES     : 'reaches' ;
NOTHING     : 'nothing' ;

LBRACE      : '{' ;
RBRACE      : '}' ;
LPAREN      : '(' ;
RPAREN      : ')' ;

// "prefix(": the name of an explicit string match and its parenthesis, as one token.
CALL        : [a-z]+ '(' ;
// Names, addresses, prefixes, ports and Istio-style string matches are all words.
WORD        : [a-zA-Z0-9_.:/*@+\-=>~]+ ;
STRING      : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"' ;
// A string without its closing quote: a token of its own so the error names it.
UNTERMINATED: '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* ;

// A run of line ends (blank lines, ';' and indentation included) is one token.
NL          : ( ('\r'? '\n' | '\r' | ';') [ \t]* )+ ;
COMMENT     : '#' ~[\r\n]* -> channel(HIDDEN) ;
WS          : [ \t\f\u00A0\uFEFF]+ -> skip ;
// Anything else is a token too, so the lexer never fails and the parser reports it in place.
BAD         : . ;
