// The code the editor starts with for each language: a short, idiomatic program that reads a name
// from the first line of stdin (default "world"), greets it and sums 1..10. Every one runs as it
// is in the language's sandbox image (examples.docker.test.ts runs them all).

export const EXAMPLES: Readonly<Record<string, string>> = {
  python: `import sys

name = sys.stdin.readline().strip() or "world"
print(f"Hello, {name}!")
print("The sum of 1..10 is", sum(range(1, 11)))
`,
  javascript: `const readline = require("node:readline");

const input = readline.createInterface({ input: process.stdin });
let name = "world";
input.once("line", (line) => {
  name = line.trim() || name;
  input.close();
});
input.once("close", () => {
  const sum = Array.from({ length: 10 }, (_, i) => i + 1).reduce((a, b) => a + b, 0);
  console.log(\`Hello, \${name}!\`);
  console.log(\`The sum of 1..10 is \${sum}\`);
});
`,
  typescript: `import * as readline from "readline";

const sum = (numbers: number[]): number => numbers.reduce((a, b) => a + b, 0);

const input = readline.createInterface({ input: process.stdin });
let name: string = "world";
input.once("line", (line: string) => {
  name = line.trim() || name;
  input.close();
});
input.once("close", () => {
  console.log(\`Hello, \${name}!\`);
  console.log(\`The sum of 1..10 is \${sum(Array.from({ length: 10 }, (_, i) => i + 1))}\`);
});
`,
  go: `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	name, _ := bufio.NewReader(os.Stdin).ReadString('\\n')
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	sum := 0
	for i := 1; i <= 10; i++ {
		sum += i
	}
	fmt.Printf("Hello, %s!\\n", name)
	fmt.Println("The sum of 1..10 is", sum)
}
`,
  c: `#include <stdio.h>
#include <string.h>

int main(void) {
    char name[256] = "";
    if (fgets(name, sizeof name, stdin) != NULL) name[strcspn(name, "\\r\\n")] = '\\0';
    int sum = 0;
    for (int i = 1; i <= 10; i++) sum += i;
    printf("Hello, %s!\\n", name[0] != '\\0' ? name : "world");
    printf("The sum of 1..10 is %d\\n", sum);
    return 0;
}
`,
  cpp: `#include <iostream>
#include <numeric>
#include <string>
#include <vector>

int main() {
    std::string name;
    if (!std::getline(std::cin, name) || name.empty()) name = "world";
    std::vector<int> numbers(10);
    std::iota(numbers.begin(), numbers.end(), 1);
    std::cout << "Hello, " << name << "!\\n";
    std::cout << "The sum of 1..10 is " << std::accumulate(numbers.begin(), numbers.end(), 0) << "\\n";
}
`,
  rust: `use std::io;

fn main() {
    let mut name = String::new();
    io::stdin().read_line(&mut name).unwrap_or(0);
    let name = match name.trim() {
        "" => "world",
        given => given,
    };
    let sum: u32 = (1..=10).sum();
    println!("Hello, {name}!");
    println!("The sum of 1..10 is {sum}");
}
`,
  java: `import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.stream.IntStream;

// The class must be Main: the file is Main.java.
public class Main {
    public static void main(String[] args) throws IOException {
        String name = new BufferedReader(new InputStreamReader(System.in)).readLine();
        if (name == null || name.isBlank()) name = "world";
        System.out.println("Hello, " + name.strip() + "!");
        System.out.println("The sum of 1..10 is " + IntStream.rangeClosed(1, 10).sum());
    }
}
`,
  ruby: `name = $stdin.gets.to_s.strip
name = "world" if name.empty?
puts "Hello, #{name}!"
puts "The sum of 1..10 is #{(1..10).sum}"
`,
  bash: `read -r name
echo "Hello, \${name:-world}!"
sum=0
for i in {1..10}; do
  (( sum += i ))
done
echo "The sum of 1..10 is $sum"
`,
};

/** The output every example prints without stdin. */
export const EXAMPLE_OUTPUT = 'Hello, world!\nThe sum of 1..10 is 55\n';

/** The example for `lang`, or a comment saying there is none (a language added since). */
export function exampleFor(lang: string): string {
  return EXAMPLES[lang] ?? `// No example for ${lang} yet: write your program here.\n`;
}
